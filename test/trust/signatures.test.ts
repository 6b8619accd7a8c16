// Threshold verification (src/trust/signatures.ts), the one place signatures
// are checked.
import { create } from '@bufbuild/protobuf';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../src/errors.js';
import { SignatureSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { createSigned } from '../../src/trust/envelope.js';
import { generateKeyPair } from '../../src/trust/keys.js';
import {
  signatureStatus,
  signBytes,
  signDocument,
  verifyBytes,
  verifyThreshold,
} from '../../src/trust/signatures.js';
import { keys, publicInfo, thrown } from './fixtures.js';

const body = new TextEncoder().encode('a document');

describe('verifyThreshold', () => {
  it('returns each distinct signer once', () => {
    const signers = keys(3);
    const signed = signDocument('pendulum.v1.Manifest', body, [...signers, ...signers]);
    const valid = verifyThreshold(
      'pendulum.v1.Manifest',
      signed,
      signers.map((k) => publicInfo(k)),
      3,
      'doc',
    );
    expect(valid.sort()).toEqual(signers.map((k) => k.keyId).sort());
  });

  it('never accepts an unsigned document, even when asked for a threshold of zero', () => {
    const signed = createSigned(body, []);
    expect(() => verifyThreshold('pendulum.v1.Manifest', signed, [], 0, 'doc')).toThrow(
      InvariantError,
    );
  });

  it('names the failure as a bad signature when a trusted key signed other bytes', () => {
    const [trusted] = keys(1);
    if (!trusted) throw new Error('no key');
    const other = signDocument('pendulum.v1.Manifest', new TextEncoder().encode('other'), [
      trusted,
    ]);
    const signed = createSigned(body, other.signatures);
    const error = thrown(() =>
      verifyThreshold('pendulum.v1.Manifest', signed, [publicInfo(trusted)], 1, 'doc'),
    );
    expect(error.code).toBe('SIGNATURE_INVALID');
    expect(error.context).toMatchObject({ valid: 0, threshold: 1 });
  });

  it('still accepts a threshold of good signatures when a trusted key also left a bad one', () => {
    const [a, b] = keys(2);
    if (!a || !b) throw new Error('no keys');
    const good = signDocument('pendulum.v1.Manifest', body, [a]);
    const bad = create(SignatureSchema, { keyId: b.keyId, sig: new Uint8Array(64) });
    const signed = createSigned(body, [bad, ...good.signatures]);
    expect(
      verifyThreshold('pendulum.v1.Manifest', signed, [publicInfo(a), publicInfo(b)], 1, 'doc'),
    ).toEqual([a.keyId]);
  });

  it('does not let a bad first signature by a key hide its good second one', () => {
    const [a] = keys(1);
    if (!a) throw new Error('no key');
    const good = signDocument('pendulum.v1.Manifest', body, [a]);
    const bad = create(SignatureSchema, { keyId: a.keyId, sig: new Uint8Array(64) });
    const signed = createSigned(body, [bad, ...good.signatures]);
    expect(verifyThreshold('pendulum.v1.Manifest', signed, [publicInfo(a)], 1, 'doc')).toEqual([
      a.keyId,
    ]);
  });
});

describe('signatureStatus', () => {
  it('sorts signatures into valid, invalid and untrusted, each key once', () => {
    const [good, bad, stranger] = keys(3);
    if (!good || !bad || !stranger) throw new Error('no keys');
    const signed = signDocument('pendulum.v1.Manifest', body, [good, good, stranger]);
    signed.signatures.push(create(SignatureSchema, { keyId: bad.keyId, sig: new Uint8Array(64) }));
    expect(
      signatureStatus('pendulum.v1.Manifest', signed, [publicInfo(good), publicInfo(bad)], 2),
    ).toEqual({
      valid: [good.keyId],
      invalid: [bad.keyId],
      untrusted: [stranger.keyId],
      threshold: 2,
    });
  });

  it('does not call a key invalid when another of its signatures verifies', () => {
    const [a] = keys(1);
    if (!a) throw new Error('no key');
    const good = signDocument('pendulum.v1.Manifest', body, [a]);
    const bad = create(SignatureSchema, { keyId: a.keyId, sig: new Uint8Array(64) });
    const status = signatureStatus(
      'pendulum.v1.Manifest',
      createSigned(body, [bad, ...good.signatures]),
      [publicInfo(a)],
      1,
    );
    expect(status.valid).toEqual([a.keyId]);
    expect(status.invalid).toEqual([]);
  });
});

describe('verifyBytes', () => {
  it('rejects a malleated signature whose S half had the group order added (RFC 8032 5.1.7)', () => {
    const key = generateKeyPair();
    const message = new TextEncoder().encode('pendulum-v1 test');
    const signature = signBytes(message, key);
    expect(verifyBytes(message, signature, key.publicKey)).toBe(true);
    // S + L: the same point equation holds, so a lax verifier accepts it.
    const order = [
      0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
      0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    const malleated = Uint8Array.from(signature);
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const sum = (malleated[32 + i] ?? 0) + (order[i] ?? 0) + carry;
      malleated[32 + i] = sum & 0xff;
      carry = sum >> 8;
    }
    // S < L < 2^253, so S + L still fits the 32 bytes.
    expect(carry).toBe(0);
    expect(nacl.sign.detached.verify(message, malleated, key.publicKey)).toBe(true);
    expect(verifyBytes(message, malleated, key.publicKey)).toBe(false);
  });
});
