// The Signed envelope: size-limited decoding and the bytes a signature covers.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { PendulumError } from '../errors.js';
import { type Signed, SignedSchema } from '../gen/pendulum/v1/manifest_pb.js';

// The document types a signature can be made for. The type is part of what is
// signed, so a trust-root signature never verifies as a manifest signature.
export type DocumentType =
  | 'pendulum.v1.TrustRoot'
  | 'pendulum.v1.Manifest'
  | 'pendulum.v1.Freshness';

// More signatures than this is an attack on verification time, not a document.
export const maxSignatures = 32;

const encoder = new TextEncoder();

// preAuthEncoding is what a signature covers, after DSSE's PAE:
// "pendulum-v1" SP len(type) SP type SP len(body) SP body.
export function preAuthEncoding(type: DocumentType, body: Uint8Array): Uint8Array {
  const head = encoder.encode(`pendulum-v1 ${type.length} ${type} ${body.length} `);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

// decodeSigned parses an envelope, refusing it before parsing when it is above
// `maxBytes`; `what` names the document in errors.
export function decodeSigned(bytes: Uint8Array, maxBytes: number, what: string): Signed {
  if (bytes.length > maxBytes) {
    throw new PendulumError(
      'TOO_LARGE',
      `${what} is ${bytes.length} bytes, above the limit of ${maxBytes}`,
      {
        context: { document: what, size: bytes.length, limit: maxBytes },
      },
    );
  }
  let signed: Signed;
  try {
    signed = fromBinary(SignedSchema, bytes);
  } catch (error) {
    throw new PendulumError('MALFORMED', `${what} is not a signed envelope`, {
      context: { document: what },
      cause: error,
    });
  }
  checkEnvelope(signed, maxBytes, what);
  return signed;
}

// checkEnvelope applies the size and signature-count limits to an already
// decoded envelope (one that arrived inside another message): a body of 1 to
// `maxBytes` bytes and 1 to `maxSignatures` signatures.
export function checkEnvelope(signed: Signed, maxBytes: number, what: string): void {
  if (signed.body.length > maxBytes) {
    throw new PendulumError(
      'TOO_LARGE',
      `${what} body is ${signed.body.length} bytes, above the limit of ${maxBytes}`,
      {
        context: { document: what, size: signed.body.length, limit: maxBytes },
      },
    );
  }
  if (signed.body.length === 0) {
    throw new PendulumError('MALFORMED', `${what} has an empty body`, {
      context: { document: what },
    });
  }
  if (signed.signatures.length > maxSignatures) {
    throw new PendulumError(
      'TOO_LARGE',
      `${what} carries ${signed.signatures.length} signatures, above ${maxSignatures}`,
      {
        context: { document: what },
      },
    );
  }
  // An unsigned envelope is a draft for `pendulum trust sign`, never a document
  // to load; refuse it before any key is looked at.
  if (signed.signatures.length === 0) {
    throw new PendulumError('MALFORMED', `${what} carries no signatures`, {
      context: { document: what, field: 'signatures' },
    });
  }
}

// encodeSigned serialises an envelope.
export function encodeSigned(signed: Signed): Uint8Array {
  return toBinary(SignedSchema, signed);
}

// createSigned builds an envelope from a body and signatures.
export function createSigned(body: Uint8Array, signatures: Signed['signatures']): Signed {
  return create(SignedSchema, { body, signatures });
}
