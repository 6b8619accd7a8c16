// Ed25519 for the fuzzer: fast signing through node:crypto, deterministic keys,
// and a memo in front of tweetnacl's verify. tweetnacl verifies in ~7 ms here,
// so a campaign of a million inputs needs both.
import { createHash, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import nacl from 'tweetnacl';
import { type KeyPair, keyIdOf } from '../src/trust/keys.js';

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
const privateKeys = new WeakMap<Uint8Array, KeyObject>();

// fuzzKey derives a key pair from a label, so every run and every worker has
// the same keys and a seed replays the same inputs.
export function fuzzKey(label: string): KeyPair {
  const seed = createHash('sha256').update(`pendulum-fuzz ${label}`).digest();
  const pair = nacl.sign.keyPair.fromSeed(new Uint8Array(seed));
  return { keyId: keyIdOf(pair.publicKey), publicKey: pair.publicKey, secretKey: pair.secretKey };
}

// signFast makes the same signature tweetnacl would (Ed25519 is deterministic)
// in a fraction of the time, and records it as valid for the verify memo.
export function signFast(message: Uint8Array, key: KeyPair): Uint8Array {
  let privateKey = privateKeys.get(key.secretKey);
  if (privateKey === undefined) {
    const der = Buffer.concat([pkcs8Prefix, key.secretKey.subarray(0, 32)]);
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    privateKeys.set(key.secretKey, privateKey);
  }
  const signature = new Uint8Array(sign(null, message, privateKey));
  memo?.set(memoKey(message, signature, key.publicKey), true);
  return signature;
}

type Verify = typeof nacl.sign.detached.verify;
const realVerify: Verify = nacl.sign.detached.verify;
let memo: Map<string, boolean> | undefined;
const memoLimit = 200_000;

// installVerifyMemo puts a memo in front of tweetnacl's verify (which
// src/trust calls): a pure function, so an input seen before gets the answer
// tweetnacl gave, and a signature signFast made is known to verify. Every
// signature the fuzzer altered still goes through the real tweetnacl. It
// stays for the life of the process (a test file's, a worker's).
export function installVerifyMemo(): void {
  if (memo !== undefined) return;
  const cache = new Map<string, boolean>();
  memo = cache;
  const detached = nacl.sign.detached as { verify: Verify };
  detached.verify = (message, signature, publicKey) => {
    const key = memoKey(message, signature, publicKey);
    const known = cache.get(key);
    if (known !== undefined) return known;
    const result = realVerify(message, signature, publicKey);
    if (cache.size >= memoLimit) cache.clear();
    cache.set(key, result);
    return result;
  };
}

// checkFastSigning makes sure node:crypto's signatures are byte for byte
// tweetnacl's, which the verify memo relies on.
export function checkFastSigning(key: KeyPair): void {
  const message = new TextEncoder().encode('pendulum fuzz self-check');
  const fast = signFast(message, key);
  const slow = nacl.sign.detached(message, key.secretKey);
  if (!Buffer.from(fast).equals(Buffer.from(slow)) || !realVerify(message, fast, key.publicKey))
    throw new Error('node:crypto and tweetnacl disagree on an Ed25519 signature');
}

function memoKey(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): string {
  const digest = createHash('sha256').update(message).digest('hex');
  return `${digest}:${Buffer.from(signature).toString('hex')}:${Buffer.from(publicKey).toString('hex')}`;
}
