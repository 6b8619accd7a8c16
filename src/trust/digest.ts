// Digests and hex, the only encodings the trust core needs.
import { createHash } from 'node:crypto';
import { PendulumError } from '../errors.js';

// sha256 returns the SHA-256 of bytes.
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

// toHex renders bytes as lower-case hex.
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// fromHex parses lower-case or upper-case hex; `field` names the input in errors.
export function fromHex(hex: string, field: string, expectedBytes?: number): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) {
    throw new PendulumError(
      'MALFORMED',
      `${field} is not hex: ${JSON.stringify(hex.slice(0, 80))}`,
      {
        context: { field },
      },
    );
  }
  const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
  if (expectedBytes !== undefined && bytes.length !== expectedBytes) {
    throw new PendulumError(
      'MALFORMED',
      `${field} must be ${expectedBytes} bytes, got ${bytes.length}`,
      {
        context: { field },
      },
    );
  }
  return bytes;
}

// isSha256Hex tells whether a string is a lower-case hex SHA-256.
export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

// bytesEqual compares two byte arrays in constant time for equal lengths.
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
