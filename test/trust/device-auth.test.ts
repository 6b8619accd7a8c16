// Device authentication (src/trust/device-auth.ts): a signature proves one
// key, one class and one moment, and nothing else.
import { describe, expect, it } from 'vitest';
import { signDeviceAuth, verifyDeviceAuth } from '../../src/trust/device-auth.js';
import { signDocument } from '../../src/trust/signatures.js';
import { keys, thrown } from './fixtures.js';

const classId = 'acme-gateway-v2';
const timestampMs = 1_900_000_000_000n;

function device() {
  const [key] = keys(1);
  if (!key) throw new Error('no key');
  return key;
}

describe('device authentication', () => {
  it('accepts a device signature over its own class and timestamp', () => {
    const key = device();
    const signature = signDeviceAuth(key, classId, timestampMs);
    expect(() => verifyDeviceAuth(key.publicKey, classId, timestampMs, signature)).not.toThrow();
  });

  it('rejects a signature presented for another device class', () => {
    const key = device();
    const signature = signDeviceAuth(key, classId, timestampMs);
    const error = thrown(() =>
      verifyDeviceAuth(key.publicKey, 'acme-camera-v1', timestampMs, signature),
    );
    expect(error.code).toBe('UNAUTHENTICATED');
  });

  it('rejects a signature replayed with another timestamp', () => {
    const key = device();
    const signature = signDeviceAuth(key, classId, timestampMs);
    const error = thrown(() =>
      verifyDeviceAuth(key.publicKey, classId, timestampMs + 1n, signature),
    );
    expect(error.code).toBe('UNAUTHENTICATED');
  });

  it("rejects one device's signature presented with another device's key", () => {
    const signer = device();
    const victim = device();
    const signature = signDeviceAuth(signer, classId, timestampMs);
    expect(
      thrown(() => verifyDeviceAuth(victim.publicKey, classId, timestampMs, signature)).code,
    ).toBe('UNAUTHENTICATED');
  });

  it('does not let a class name absorb the timestamp separator', () => {
    // "c\0 1" + "23" must not sign the same message as "c" + "123".
    const key = device();
    const signature = signDeviceAuth(key, 'c\u00001', 23n);
    expect(thrown(() => verifyDeviceAuth(key.publicKey, 'c', 123n, signature)).code).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('does not accept a signed document as a device authentication', () => {
    const key = device();
    const signed = signDocument('pendulum.v1.Manifest', new TextEncoder().encode(classId), [key]);
    const sig = signed.signatures[0]?.sig ?? new Uint8Array();
    expect(thrown(() => verifyDeviceAuth(key.publicKey, classId, timestampMs, sig)).code).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('rejects a truncated signature without crashing', () => {
    const key = device();
    const signature = signDeviceAuth(key, classId, timestampMs).subarray(0, 32);
    expect(
      thrown(() => verifyDeviceAuth(key.publicKey, classId, timestampMs, signature)).code,
    ).toBe('UNAUTHENTICATED');
  });

  it('rejects a public key that is not 32 bytes as a bad request', () => {
    const key = device();
    const signature = signDeviceAuth(key, classId, timestampMs);
    const error = thrown(() =>
      verifyDeviceAuth(key.publicKey.subarray(0, 31), classId, timestampMs, signature),
    );
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.context.field).toBe('public_key');
  });
});
