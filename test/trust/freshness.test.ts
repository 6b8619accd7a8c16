// Attacks on the check-in freshness statement (src/trust/freshness.ts):
// replay, freeze, mix-and-match and keys of the wrong role.
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { OfferSchema } from '../../src/gen/pendulum/v1/device_pb.js';
import { encodeTrustRoot } from '../../src/trust/authoring.js';
import {
  encodeFreshness,
  type FreshnessClaim,
  freshnessType,
  verifyFreshness,
} from '../../src/trust/freshness.js';
import type { KeyPair } from '../../src/trust/keys.js';
import { signDocument } from '../../src/trust/signatures.js';
import { decodeTrustRootBody } from '../../src/trust/trust-root.js';
import {
  createWorld,
  keys,
  now,
  publicInfo,
  signedManifest,
  thrown,
  trustRootSpec,
} from './fixtures.js';

const world = createWorld();
const deviceId = 'a'.repeat(64);
const nonce = new Uint8Array(32).fill(9);
const offer = create(OfferSchema, {
  deploymentId: 'deployment-1',
  manifest: signedManifest(world),
  payloads: [],
});
const minute = 60_000;

function statement(
  over: Partial<FreshnessClaim> = {},
  signers: readonly KeyPair[] = [world.timestampKey],
) {
  return signDocument(
    freshnessType,
    encodeFreshness({
      time: now,
      expiresAt: new Date(now.getTime() + 60 * minute),
      deviceId,
      nonce,
      offer,
      ...over,
    }),
    signers,
  );
}

const expected = { deviceId, nonce, offer, now };

describe('check-in freshness', () => {
  it('accepts a statement the timestamp key made for this device, request and offer', () => {
    const { time } = verifyFreshness(statement(), world.root, expected);
    expect(time).toEqual(now);
  });

  it('rejects a replayed check-in reply: the statement answers another nonce', () => {
    const replayed = statement({ nonce: new Uint8Array(32).fill(1) });
    expect(thrown(() => verifyFreshness(replayed, world.root, expected)).code).toBe('REPLAYED');
  });

  it('rejects a replayed check-in reply after its expiry, on the clock floor', () => {
    const old = statement({
      time: new Date(now.getTime() - 120 * minute),
      expiresAt: new Date(now.getTime() - 60 * minute),
    });
    expect(thrown(() => verifyFreshness(old, world.root, expected)).code).toBe('EXPIRED');
  });

  it('rejects a statement made for another device', () => {
    const other = statement({ deviceId: 'b'.repeat(64) });
    expect(thrown(() => verifyFreshness(other, world.root, expected)).code).toBe('REPLAYED');
  });

  it('rejects mix-and-match: a statement about another offer than the one beside it', () => {
    const otherOffer = create(OfferSchema, {
      deploymentId: 'deployment-1',
      manifest: signedManifest(world, { sequence: 8 }),
      payloads: [],
    });
    const mixed = statement({ offer: otherOffer });
    expect(thrown(() => verifyFreshness(mixed, world.root, expected)).code).toBe('REPLAYED');
    const none = statement({ offer: undefined });
    expect(thrown(() => verifyFreshness(none, world.root, expected)).code).toBe('REPLAYED');
  });

  it('rejects a statement signed by a release or root key instead of the timestamp key', () => {
    for (const signer of [world.releaseKeys[0], world.rootKeys[0]] as KeyPair[]) {
      expect(
        thrown(() => verifyFreshness(statement({}, [signer]), world.root, expected)).code,
      ).toBe('UNTRUSTED_KEY');
    }
  });

  it('rejects a reply with no statement at all', () => {
    expect(thrown(() => verifyFreshness(undefined, world.root, expected)).code).toBe('MALFORMED');
  });

  it('rejects a statement that claims to stay valid for more than a day', () => {
    const long = statement({ expiresAt: new Date(now.getTime() + 25 * 60 * minute) });
    expect(thrown(() => verifyFreshness(long, world.root, expected)).code).toBe('MALFORMED');
  });

  it('rejects a statement whose body was changed after signing', () => {
    const signed = statement();
    const body = new Uint8Array(signed.body);
    body[body.length - 1] = (body.at(-1) ?? 0) ^ 1;
    const tampered = { ...signed, body };
    expect(['SIGNATURE_INVALID', 'THRESHOLD_NOT_MET']).toContain(
      thrown(() => verifyFreshness(tampered, world.root, expected)).code,
    );
  });
});

describe('the timestamp role in a trust root', () => {
  const [root, release, timestamp] = keys(3) as [KeyPair, KeyPair, KeyPair];

  it('refuses a root without timestamp keys', () => {
    const body = encodeTrustRoot(trustRootSpec([root], [release], { timestampKeys: [] }));
    const error = thrown(() => decodeTrustRootBody(body, 'root'));
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe('timestamp_keys');
  });

  it('refuses a timestamp threshold of 0', () => {
    const body = encodeTrustRoot(trustRootSpec([root], [release], { timestampThreshold: 0 }));
    expect(thrown(() => decodeTrustRootBody(body, 'root')).context.field).toBe(
      'timestamp_threshold',
    );
  });

  it('refuses an online timestamp key that is also a release or root key', () => {
    for (const shared of [release, root]) {
      const body = encodeTrustRoot(
        trustRootSpec([root], [release], {
          timestampKeys: [publicInfo(timestamp), publicInfo(shared)],
        }),
      );
      const error = thrown(() => decodeTrustRootBody(body, 'root'));
      expect(error.code).toBe('MALFORMED');
      expect(error.message).toContain('a key of its own');
    }
  });
});
