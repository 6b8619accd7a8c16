// Signing for the fuzzer, and the signatures a forger has at hand for a
// document: genuine ones by every key around, ones over another body or as
// the other document type, ones filed under the wrong key id, and garbage.
import { create } from '@bufbuild/protobuf';
import {
  type Signature,
  SignatureSchema,
  type Signed,
} from '../src/gen/pendulum/v1/manifest_pb.js';
import { createSigned } from '../src/trust/envelope.js';
import type { KeyPair } from '../src/trust/keys.js';
import { signFast } from './ed25519.js';
import { type DocType, signingInput } from './oracle.js';

// signWith signs `body` as `type` with each key.
export function signWith(type: DocType, body: Uint8Array, keys: readonly KeyPair[]): Signed {
  return createSigned(
    body,
    keys.map((key) => signature(type, body, key)),
  );
}

// signature is one key's signature over `body` as `type`, filed under `keyId`.
export function signature(
  type: DocType,
  body: Uint8Array,
  key: KeyPair,
  keyId = key.keyId,
): Signature {
  return create(SignatureSchema, { keyId, sig: signFast(signingInput(type, body), key) });
}

// signaturesAtHand lists what a forger could add to an envelope of `body`,
// made with `keys` (trusted ones first).
export function signaturesAtHand(
  type: DocType,
  body: Uint8Array,
  keys: readonly KeyPair[],
): Signature[] {
  const crossType: DocType =
    type === 'pendulum.v1.Manifest' ? 'pendulum.v1.TrustRoot' : 'pendulum.v1.Manifest';
  const [a, b] = keys;
  const otherBody = new Uint8Array([...body, 0]);
  const out: Signature[] = keys.map((key) => signature(type, body, key));
  out.push(...keys.slice(0, 3).map((key) => signature(crossType, body, key)));
  out.push(...keys.slice(0, 3).map((key) => signature(type, otherBody, key)));
  if (a !== undefined && b !== undefined) out.push(signature(type, body, a, b.keyId));
  const garbage = (keyId: string, sig: Uint8Array) => create(SignatureSchema, { keyId, sig });
  if (a !== undefined) {
    out.push(garbage(a.keyId, new Uint8Array(64)));
    out.push(garbage(a.keyId, new Uint8Array(63).fill(1)));
    out.push(garbage(a.keyId, new Uint8Array()));
    out.push(garbage(a.keyId.toUpperCase(), signFast(signingInput(type, body), a)));
  }
  out.push(garbage('', new Uint8Array(64).fill(0xff)));
  return out;
}
