// The fuzzer's own answer to "was this validly signed?", written from the
// spec (DESIGN.md, envelope.ts's comment on DSSE's PAE) without calling the
// trust core: what a verifier may accept is checked against it.
import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';
import type { Signature } from '../src/gen/pendulum/v1/manifest_pb.js';

export type DocType = 'pendulum.v1.TrustRoot' | 'pendulum.v1.Manifest' | 'pendulum.v1.Freshness';

const encoder = new TextEncoder();

// signingInput is what a signature over a document covers:
// "pendulum-v1" SP len(type) SP type SP len(body) SP body.
export function signingInput(type: DocType, body: Uint8Array): Uint8Array {
  const head = encoder.encode(`pendulum-v1 ${type.length} ${type} ${body.length} `);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

// deviceAuthInput is what a device signs to authenticate.
export function deviceAuthInput(publicKey: Uint8Array, classId: string, timestampMs: bigint) {
  const head = encoder.encode(`pendulum-device-auth-v1\0${classId}\0${timestampMs}\0`);
  const out = new Uint8Array(head.length + publicKey.length);
  out.set(head);
  out.set(publicKey, head.length);
  return out;
}

// verifies is one Ed25519 check, refusing malformed lengths as tweetnacl would throw.
export function verifies(message: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): boolean {
  if (sig.length !== 64 || publicKey.length !== 32) return false;
  return nacl.sign.detached.verify(message, sig, publicKey);
}

// validSigners returns the trusted keys (hex) that signed `body` as `type`:
// a key counts once, whatever key id its signature is filed under.
export function validSigners(
  type: DocType,
  body: Uint8Array,
  signatures: readonly Pick<Signature, 'sig'>[],
  trusted: readonly Uint8Array[],
): Set<string> {
  const message = signingInput(type, body);
  const signers = new Set<string>();
  for (const key of trusted) {
    const hex = Buffer.from(key).toString('hex');
    if (signers.has(hex)) continue;
    if (signatures.some((s) => verifies(message, s.sig, key))) signers.add(hex);
  }
  return signers;
}

// meetsThreshold tells whether at least `threshold` (at least one) distinct
// trusted keys signed `body` as `type`.
export function meetsThreshold(
  type: DocType,
  body: Uint8Array,
  signatures: readonly Pick<Signature, 'sig'>[],
  trusted: readonly Uint8Array[],
  threshold: number,
): boolean {
  if (!Number.isInteger(threshold) || threshold < 1) return false;
  return validSigners(type, body, signatures, trusted).size >= threshold;
}

// keyIdHex is the key id of a raw public key: hex SHA-256.
export function keyIdHex(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex');
}
