// Signing and threshold verification: the only place tweetnacl verifies.
import { create } from '@bufbuild/protobuf';
import nacl from 'tweetnacl';
import { invariant, PendulumError } from '../errors.js';
import { SignatureSchema, type Signed } from '../gen/pendulum/v1/manifest_pb.js';
import { createSigned, type DocumentType, preAuthEncoding } from './envelope.js';
import type { KeyPair, PublicKeyInfo } from './keys.js';

// signDocument signs a body with each key; the CLI is its only caller.
export function signDocument(
  type: DocumentType,
  body: Uint8Array,
  keys: readonly KeyPair[],
): Signed {
  const message = preAuthEncoding(type, body);
  return createSigned(
    body,
    keys.map((key) =>
      create(SignatureSchema, {
        keyId: key.keyId,
        sig: nacl.sign.detached(message, key.secretKey),
      }),
    ),
  );
}

// signBytes makes a detached signature over a domain-separated message.
export function signBytes(message: Uint8Array, key: KeyPair): Uint8Array {
  return nacl.sign.detached(message, key.secretKey);
}

// verifyBytes checks one detached signature over a domain-separated message.
export function verifyBytes(
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (
    signature.length !== nacl.sign.signatureLength ||
    publicKey.length !== nacl.sign.publicKeyLength
  )
    return false;
  // RFC 8032 5.1.7: S must be below the group order L. tweetnacl does not
  // check it, so S + L would verify too: a second signature for the same key
  // and body (malleability).
  if (!isCanonicalScalar(signature.subarray(32))) return false;
  return nacl.sign.detached.verify(message, signature, publicKey);
}

// The order L of Ed25519's base point, little-endian, as the signature's S half is.
const groupOrder = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
]);

// isCanonicalScalar: the 32-byte little-endian number is below L.
function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = s[i] ?? 0;
    const b = groupOrder[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

// What the signatures on an envelope amount to against a list of trusted keys.
export interface SignatureStatus {
  // Trusted keys with a signature that verifies, each once.
  readonly valid: readonly string[];
  // Trusted keys that left signatures, none of which verifies.
  readonly invalid: readonly string[];
  // Keys that signed but are not trusted here, each once.
  readonly untrusted: readonly string[];
  readonly threshold: number;
}

// signatureStatus sorts the signatures on an envelope by trusted keys into
// valid and invalid ones. Several signatures by one key count once (TUF 5.3.4).
export function signatureStatus(
  type: DocumentType,
  signed: Signed,
  trusted: readonly PublicKeyInfo[],
  threshold: number,
): SignatureStatus {
  const message = preAuthEncoding(type, signed.body);
  const byId = new Map(trusted.map((key) => [key.keyId, key]));
  const valid = new Set<string>();
  const failed = new Set<string>();
  const untrusted = new Set<string>();
  for (const signature of signed.signatures) {
    const key = byId.get(signature.keyId);
    if (key === undefined) untrusted.add(signature.keyId);
    else if (valid.has(key.keyId)) continue;
    else if (verifyBytes(message, signature.sig, key.publicKey)) valid.add(key.keyId);
    else failed.add(key.keyId);
  }
  return {
    valid: [...valid],
    invalid: [...failed].filter((keyId) => !valid.has(keyId)),
    untrusted: [...untrusted],
    threshold,
  };
}

// verifyThreshold checks that at least `threshold` distinct trusted keys signed
// the envelope and returns their key ids. Signatures by unknown keys are
// ignored; several signatures by one key count once (TUF 5.3.4).
export function verifyThreshold(
  type: DocumentType,
  signed: Signed,
  trusted: readonly PublicKeyInfo[],
  threshold: number,
  what: string,
): string[] {
  // A threshold below one would accept an unsigned document: fail closed.
  invariant(
    Number.isInteger(threshold) && threshold >= 1,
    `${what}: signature threshold ${threshold} is below 1`,
  );
  const status = signatureStatus(type, signed, trusted, threshold);
  const valid = status.valid.length;
  if (valid >= threshold) return [...status.valid];
  const context = { document: what, valid, threshold };
  if (status.invalid.length > 0) {
    throw new PendulumError(
      'SIGNATURE_INVALID',
      `${what}: a signature by a trusted key does not verify (the document was altered or mis-signed)`,
      { context },
    );
  }
  if (valid === 0) {
    throw new PendulumError('UNTRUSTED_KEY', `${what} is not signed by any trusted key`, {
      context: {
        ...context,
        signers: signed.signatures.map((s) => s.keyId.slice(0, 16)).join(','),
      },
    });
  }
  throw new PendulumError(
    'THRESHOLD_NOT_MET',
    `${what} has valid signatures by ${valid} distinct trusted key(s); ${threshold} required`,
    { context },
  );
}
