// Threshold signing done on separate machines: each signer adds one signature
// to the same body, and the copies are merged. Pure: envelopes and keys in,
// an envelope out. The body is never re-encoded, so every copy stays the
// document that was reviewed.
import { create } from '@bufbuild/protobuf';
import { invariant, PendulumError } from '../errors.js';
import { type Signature, SignatureSchema, type Signed } from '../gen/pendulum/v1/manifest_pb.js';
import { bytesEqual } from './digest.js';
import { createSigned, type DocumentType, maxSignatures, preAuthEncoding } from './envelope.js';
import type { KeyPair, PublicKeyInfo } from './keys.js';
import { signBytes, verifyBytes } from './signatures.js';

// An envelope and the file it came from, for errors that name it.
export interface SignedSource {
  readonly source: string;
  readonly signed: Signed;
}

// addSignature signs the body with `key` and keeps every other signature. A
// key that already left a signature that verifies adds nothing; one whose
// earlier signature does not verify has it replaced.
export function addSignature(
  type: DocumentType,
  signed: Signed,
  key: KeyPair,
): { signed: Signed; added: boolean } {
  const message = preAuthEncoding(type, signed.body);
  const own = signed.signatures.filter((s) => s.keyId === key.keyId);
  if (own.some((s) => verifyBytes(message, s.sig, key.publicKey))) return { signed, added: false };
  const others = signed.signatures.filter((s) => s.keyId !== key.keyId);
  const signature = create(SignatureSchema, { keyId: key.keyId, sig: signBytes(message, key) });
  if (others.length + 1 > maxSignatures) {
    throw new PendulumError(
      'TOO_LARGE',
      `a signature more would be above the limit of ${maxSignatures}`,
      { context: { field: 'signatures' } },
    );
  }
  return { signed: createSigned(signed.body, [...others, signature]), added: true };
}

// mergeSignatures joins the signatures of copies of one document: their bodies
// must be byte-identical. Each key keeps one signature; where copies disagree
// on a key's signature, the one that verifies against `known` keys is kept.
export function mergeSignatures(
  type: DocumentType,
  copies: readonly SignedSource[],
  known: readonly PublicKeyInfo[],
): Signed {
  const [first] = copies;
  invariant(first !== undefined, 'mergeSignatures needs at least one document');
  for (const copy of copies) {
    if (!bytesEqual(copy.signed.body, first.signed.body)) {
      throw new PendulumError(
        'INVALID_ARGUMENT',
        `${copy.source} and ${first.source} are not the same document (their bodies differ); only signatures over one body can be merged`,
        { context: { file: copy.source, field: 'body' } },
      );
    }
  }
  const message = preAuthEncoding(type, first.signed.body);
  const keys = new Map(known.map((key) => [key.keyId, key]));
  const verifies = (s: Signature) => {
    const key = keys.get(s.keyId);
    return key !== undefined && verifyBytes(message, s.sig, key.publicKey);
  };
  // A known key's signature that verifies replaces one that does not.
  const prefer = (held: Signature, incoming: Signature) =>
    !bytesEqual(held.sig, incoming.sig) && !verifies(held) && verifies(incoming);
  const chosen = new Map<string, { signature: Signature; source: string }>();
  for (const copy of copies) {
    for (const signature of copy.signed.signatures) {
      const held = chosen.get(signature.keyId);
      if (held === undefined || prefer(held.signature, signature)) {
        chosen.set(signature.keyId, { signature, source: copy.source });
      } else if (!bytesEqual(held.signature.sig, signature.sig) && !keys.has(signature.keyId)) {
        // Ed25519 signatures are deterministic: two different ones by one key
        // over one body cannot both be genuine, and this key cannot be checked.
        throw new PendulumError(
          'SIGNATURE_INVALID',
          `${held.source} and ${copy.source} carry different signatures by key ${signature.keyId}; at most one is genuine`,
          { context: { file: copy.source, key: signature.keyId } },
        );
      }
    }
  }
  if (chosen.size > maxSignatures) {
    throw new PendulumError(
      'TOO_LARGE',
      `the merged document would carry ${chosen.size} signatures, above the limit of ${maxSignatures}`,
      { context: { field: 'signatures' } },
    );
  }
  return createSigned(
    first.signed.body,
    [...chosen.values()].map((entry) => entry.signature),
  );
}
