// The next version of a trust root (src/trust/root-rotation.ts): what
// `pendulum trust rotate` writes, and the results it refuses to write.
import { describe, expect, it } from 'vitest';
import { encodeTrustRoot } from '../../src/trust/authoring.js';
import { addSignature } from '../../src/trust/cosigning.js';
import { createSigned } from '../../src/trust/envelope.js';
import { nextTrustRoot, type RootChange } from '../../src/trust/root-rotation.js';
import { updateTrustRoot } from '../../src/trust/trust-root.js';
import { createWorld, day, keys, now, publicInfo, thrown } from './fixtures.js';

const expiresAt = new Date(now.getTime() + 365 * day);

describe('nextTrustRoot', () => {
  it('makes version N+1 for the same vendor, with keys added and removed', () => {
    const world = createWorld({ rootKeys: 2, releaseKeys: 2 });
    const [oldRoot, keptRoot] = world.rootKeys;
    const [oldRelease, keptRelease] = world.releaseKeys;
    const [newRoot, newRelease] = keys(2);
    if (!oldRoot || !keptRoot || !oldRelease || !keptRelease || !newRoot || !newRelease)
      throw new Error('no keys');
    const spec = nextTrustRoot(world.root, {
      root: { add: [publicInfo(newRoot)], remove: [oldRoot.keyId], threshold: 2 },
      release: { add: [publicInfo(newRelease)], remove: [oldRelease.keyId] },
      expiresAt,
    });
    expect(spec.version).toBe(2);
    expect(spec.vendorId).toBe(world.root.vendorId);
    expect(spec.expiresAt).toBe(expiresAt);
    expect(spec.rootKeys.map((k) => k.keyId)).toEqual([keptRoot.keyId, newRoot.keyId]);
    expect(spec.rootThreshold).toBe(2);
    expect(spec.releaseKeys.map((k) => k.keyId)).toEqual([keptRelease.keyId, newRelease.keyId]);
    expect(spec.releaseThreshold).toBe(1);
  });

  it('keeps the keys and thresholds it is not told to change (an expiry extension)', () => {
    const world = createWorld({ rootKeys: 3, rootThreshold: 2 });
    const spec = nextTrustRoot(world.root, { expiresAt });
    expect(spec.rootKeys).toEqual(world.root.rootKeys);
    expect(spec.rootThreshold).toBe(2);
    expect(spec.releaseKeys).toEqual(world.root.releaseKeys);
  });

  it('writes a body that devices accept once both thresholds have signed it', () => {
    const world = createWorld();
    const [newRoot] = keys(1);
    const [oldRoot] = world.rootKeys;
    if (!newRoot || !oldRoot) throw new Error('no keys');
    const spec = nextTrustRoot(world.root, {
      root: { add: [publicInfo(newRoot)], remove: [oldRoot.keyId] },
      expiresAt,
    });
    let signed = createSigned(encodeTrustRoot(spec), []);
    for (const key of [oldRoot, newRoot])
      signed = addSignature('pendulum.v1.TrustRoot', signed, key).signed;
    expect(updateTrustRoot(world.root, [signed], now).rootKeys).toEqual([publicInfo(newRoot)]);
  });

  const refusals: [string, (world: ReturnType<typeof createWorld>) => RootChange, string][] = [
    ['a root threshold of 0', () => ({ root: { threshold: 0 }, expiresAt }), 'root_threshold'],
    [
      'a release threshold above the release keys',
      () => ({ release: { threshold: 2 }, expiresAt }),
      'release_threshold',
    ],
    [
      'a threshold left above the keys after a removal',
      (w) => ({ root: { remove: [w.rootKeys[0]?.keyId ?? ''] }, expiresAt }),
      'root_threshold',
    ],
    [
      'no root keys at all',
      (w) => ({ root: { remove: w.rootKeys.map((k) => k.keyId), threshold: 1 }, expiresAt }),
      'root_keys',
    ],
    [
      'no release keys at all',
      (w) => ({ release: { remove: w.releaseKeys.map((k) => k.keyId) }, expiresAt }),
      'release_keys',
    ],
    [
      'a key added that is already listed',
      (w) => ({ root: { add: w.rootKeys.slice(0, 1).map((k) => publicInfo(k)) }, expiresAt }),
      'root_keys',
    ],
    [
      'the same key added twice',
      () => {
        const [key] = keys(1);
        if (!key) throw new Error('no keys');
        return { release: { add: [publicInfo(key), publicInfo(key)] }, expiresAt };
      },
      'release_keys',
    ],
    [
      'a key removed that the current root does not list',
      () => ({ root: { remove: [keys(1)[0]?.keyId ?? ''] }, expiresAt }),
      'root_keys',
    ],
  ];

  it.each(refusals)('refuses %s', (_name, change, field) => {
    const world = createWorld({ rootKeys: 2, rootThreshold: 2 });
    const error = thrown(() => nextTrustRoot(world.root, change(world)));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.context.field).toBe(field);
  });
});
