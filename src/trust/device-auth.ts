// The message a device signs to prove it holds its key (DeviceService.Authenticate).
import { PendulumError } from '../errors.js';
import type { KeyPair } from './keys.js';
import { signBytes, verifyBytes } from './signatures.js';

const encoder = new TextEncoder();

// deviceAuthMessage is what the device signs: a fixed domain tag, its class,
// the timestamp and its public key, so the signature proves nothing else.
export function deviceAuthMessage(
  publicKey: Uint8Array,
  classId: string,
  timestampMs: bigint,
): Uint8Array {
  const head = encoder.encode(`pendulum-device-auth-v1\0${classId}\0${timestampMs.toString()}\0`);
  const out = new Uint8Array(head.length + publicKey.length);
  out.set(head, 0);
  out.set(publicKey, head.length);
  return out;
}

// signDeviceAuth signs an authentication request with the device key.
export function signDeviceAuth(key: KeyPair, classId: string, timestampMs: bigint): Uint8Array {
  return signBytes(deviceAuthMessage(key.publicKey, classId, timestampMs), key);
}

// verifyDeviceAuth throws unless `signature` is the device key's signature
// over the authentication message.
export function verifyDeviceAuth(
  publicKey: Uint8Array,
  classId: string,
  timestampMs: bigint,
  signature: Uint8Array,
): void {
  if (publicKey.length !== 32) {
    throw new PendulumError('INVALID_ARGUMENT', 'public_key must be a 32-byte Ed25519 key', {
      context: { field: 'public_key' },
    });
  }
  if (!verifyBytes(deviceAuthMessage(publicKey, classId, timestampMs), signature, publicKey)) {
    throw new PendulumError('UNAUTHENTICATED', 'device signature does not verify', {
      context: { field: 'signature' },
    });
  }
}
