// Key files (src/trust/keys.ts): what the CLI reads must be the key it claims to be.
import { describe, expect, it } from 'vitest';
import { sha256, toHex } from '../../src/trust/digest.js';
import {
  formatPublicKeyFile,
  formatSecretKeyFile,
  generateKeyPair,
  keyIdOf,
  parsePublicKeyFile,
  parseSecretKeyFile,
} from '../../src/trust/keys.js';
import { signBytes, verifyBytes } from '../../src/trust/signatures.js';
import { publicInfo, thrown } from './fixtures.js';

const source = '/etc/pendulum/release-a.key';
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

// secretFile renders a valid secret key file, then replaces fields.
function secretFile(overrides: Record<string, unknown> = {}): string {
  const doc = JSON.parse(formatSecretKeyFile(generateKeyPair(), 'release-a')) as Record<
    string,
    unknown
  >;
  return JSON.stringify({ ...doc, ...overrides });
}

describe('keys', () => {
  it('names a key by the SHA-256 of its public key', () => {
    const pair = generateKeyPair();
    expect(pair.keyId).toBe(toHex(sha256(pair.publicKey)));
    expect(keyIdOf(pair.publicKey)).toBe(pair.keyId);
    expect(generateKeyPair().keyId).not.toBe(pair.keyId);
  });

  it('round-trips a secret key file to a key that still signs', () => {
    const pair = generateKeyPair();
    const parsed = parseSecretKeyFile(formatSecretKeyFile(pair, 'release-a'), source);
    expect(parsed.keyId).toBe(pair.keyId);
    expect(parsed.label).toBe('release-a');
    expect(parsed.publicKey).toEqual(pair.publicKey);
    expect(parsed.secretKey).toEqual(pair.secretKey);
    const message = new TextEncoder().encode('hello');
    expect(verifyBytes(message, signBytes(message, parsed), pair.publicKey)).toBe(true);
  });

  it('round-trips a public key file', () => {
    const pair = generateKeyPair();
    const parsed = parsePublicKeyFile(formatPublicKeyFile(publicInfo(pair, 'release-a')), source);
    expect(parsed).toEqual({ keyId: pair.keyId, publicKey: pair.publicKey, label: 'release-a' });
  });

  it('reads the public half of a secret key file', () => {
    const pair = generateKeyPair();
    expect(parsePublicKeyFile(formatSecretKeyFile(pair, 'x'), source).keyId).toBe(pair.keyId);
  });

  it('derives the key id from the key, not from the key_id the file claims', () => {
    const pair = generateKeyPair();
    const other = generateKeyPair();
    const doc = JSON.parse(formatPublicKeyFile(publicInfo(pair))) as Record<string, unknown>;
    const lying = JSON.stringify({ ...doc, key_id: other.keyId });
    expect(parsePublicKeyFile(lying, source).keyId).toBe(pair.keyId);
  });

  it('rejects a secret key file whose public key belongs to another key', () => {
    const error = thrown(() =>
      parseSecretKeyFile(secretFile({ public_key: b64(generateKeyPair().publicKey) }), source),
    );
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe('public_key');
    expect(error.message).toContain(source);
  });

  it('rejects a secret key whose seed does not match the public key it carries', () => {
    // tweetnacl keeps the public key in the last 32 bytes of the secret key;
    // a file that swaps both halves consistently would sign with a key whose
    // signatures never verify.
    const signer = generateKeyPair();
    const claimed = generateKeyPair();
    const secretKey = new Uint8Array([...signer.secretKey.subarray(0, 32), ...claimed.publicKey]);
    const error = thrown(() =>
      parseSecretKeyFile(
        secretFile({ public_key: b64(claimed.publicKey), secret_key: b64(secretKey) }),
        source,
      ),
    );
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe('public_key');
    expect(error.message).toContain(source);
  });

  it('rejects a secret key whose last half is another public key', () => {
    const pair = generateKeyPair();
    const secretKey = new Uint8Array([
      ...pair.secretKey.subarray(0, 32),
      ...generateKeyPair().publicKey,
    ]);
    const error = thrown(() =>
      parseSecretKeyFile(
        secretFile({ public_key: b64(pair.publicKey), secret_key: b64(secretKey) }),
        source,
      ),
    );
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe('secret_key');
    expect(error.message).toContain(source);
  });

  it.each([
    ['not JSON', 'not json {', undefined],
    ['a JSON array', '[]', undefined],
    [
      'a public key file where a secret one is needed',
      formatPublicKeyFile(publicInfo(generateKeyPair())),
      'type',
    ],
    ['a short public key', secretFile({ public_key: b64(new Uint8Array(31)) }), 'public_key'],
    [
      'a secret key that is not base64 of 64 bytes',
      secretFile({ secret_key: 'AAAA' }),
      'secret_key',
    ],
    ['a missing secret key', secretFile({ secret_key: undefined }), 'secret_key'],
  ])('rejects %s as a secret key file, naming the file', (_name, text, field) => {
    const error = thrown(() => parseSecretKeyFile(text, source));
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain(source);
    expect(error.context.file).toBe(source);
    expect(error.context.field).toBe(field);
  });

  it('rejects a file of another type as a public key file, naming the file', () => {
    const error = thrown(() =>
      parsePublicKeyFile(JSON.stringify({ type: 'ssh-ed25519', public_key: '' }), source),
    );
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain(source);
    expect(error.context.field).toBe('type');
  });
});
