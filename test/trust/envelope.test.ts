// The Signed envelope (src/trust/envelope.ts): size limits before parsing, and
// a pre-authentication encoding that binds the document type.
import { describe, expect, it } from 'vitest';
import {
  checkEnvelope,
  createSigned,
  decodeSigned,
  encodeSigned,
  maxSignatures,
  preAuthEncoding,
} from '../../src/trust/envelope.js';
import { signDocument } from '../../src/trust/signatures.js';
import { keys, thrown } from './fixtures.js';

const body = new TextEncoder().encode('body bytes');

describe('envelope', () => {
  it('round-trips an envelope through its bytes unchanged', () => {
    const signed = signDocument('pendulum.v1.Manifest', body, keys(2));
    const decoded = decodeSigned(encodeSigned(signed), 1024, 'manifest');
    expect(decoded.body).toEqual(body);
    expect(decoded.signatures.map((s) => [s.keyId, s.sig])).toEqual(
      signed.signatures.map((s) => [s.keyId, s.sig]),
    );
  });

  it('refuses bytes above the limit before parsing them', () => {
    // Not a valid envelope at all: only the size can have been checked.
    const error = thrown(() => decodeSigned(new Uint8Array(1025).fill(0xff), 1024, 'manifest'));
    expect(error.code).toBe('TOO_LARGE');
    expect(error.context).toMatchObject({ document: 'manifest', size: 1025, limit: 1024 });
  });

  it('accepts an envelope exactly at the limit', () => {
    const bytes = encodeSigned(signDocument('pendulum.v1.Manifest', body, keys(1)));
    expect(decodeSigned(bytes, bytes.length, 'manifest').body).toEqual(body);
  });

  it('rejects an envelope with an empty signature list as malformed', () => {
    const error = thrown(() =>
      decodeSigned(encodeSigned(createSigned(body, [])), 1024, 'manifest'),
    );
    expect(error.code).toBe('MALFORMED');
    expect(error.context).toMatchObject({ document: 'manifest', field: 'signatures' });
  });

  it('refuses an already-decoded envelope whose body is above the limit', () => {
    expect(
      thrown(() => checkEnvelope(createSigned(new Uint8Array(11), []), 10, 'manifest')).code,
    ).toBe('TOO_LARGE');
  });

  it('refuses an envelope with more signatures than any document needs', () => {
    const signed = signDocument('pendulum.v1.Manifest', body, keys(maxSignatures + 1));
    expect(thrown(() => decodeSigned(encodeSigned(signed), 1024 * 1024, 'manifest')).code).toBe(
      'TOO_LARGE',
    );
  });

  it('rejects bytes that are not an envelope as malformed', () => {
    const error = thrown(() =>
      decodeSigned(new Uint8Array([0x0a, 0x05, 0x01]), 1024, 'trust root'),
    );
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain('trust root');
  });

  it('binds the document type into what is signed', () => {
    expect(preAuthEncoding('pendulum.v1.Manifest', body)).not.toEqual(
      preAuthEncoding('pendulum.v1.TrustRoot', body),
    );
  });

  it('keeps the pre-authentication encoding stable so signatures made today verify on devices later', () => {
    const encoded = Buffer.from(preAuthEncoding('pendulum.v1.Manifest', body)).toString('latin1');
    expect(encoded).toBe(`pendulum-v1 20 pendulum.v1.Manifest ${body.length} body bytes`);
  });
});
