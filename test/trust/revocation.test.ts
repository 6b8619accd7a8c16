// Revocation: removing a release key from the trust root revokes whatever it
// signed alone, including releases signed while it was still trusted.
import { describe, expect, it } from 'vitest';
import type { KeyPair } from '../../src/trust/keys.js';
import { verifyManifest } from '../../src/trust/manifest.js';
import { updateTrustRoot, type VerifiedTrustRoot } from '../../src/trust/trust-root.js';
import {
  createWorld,
  devicePolicy,
  keys,
  now,
  signedManifest,
  signedRoot,
  thrown,
  trustRootSpec,
  type World,
} from './fixtures.js';

// withoutReleaseKey is v2 of a world's root: the same root keys, the release
// keys minus `removed` plus one fresh key, with `threshold`.
function withoutReleaseKey(world: World, removed: KeyPair, threshold: number): VerifiedTrustRoot {
  const kept = world.releaseKeys.filter((key) => key.keyId !== removed.keyId);
  const spec = trustRootSpec(world.rootKeys, [...kept, ...keys(1)], {
    version: 2,
    releaseThreshold: threshold,
  });
  return updateTrustRoot(world.root, [signedRoot(spec, world.rootKeys)], now);
}

describe('release key revocation', () => {
  it('rejects a release signed only by a removed key, though it verified under the root it was made for', () => {
    const world = createWorld({ releaseKeys: 2 });
    const [revoked] = world.releaseKeys;
    if (!revoked) throw new Error('no keys');
    const release = signedManifest(world, {}, [revoked]);
    expect(verifyManifest(release, world.root, devicePolicy()).signers).toEqual([revoked.keyId]);

    const v2 = withoutReleaseKey(world, revoked, 1);
    expect(thrown(() => verifyManifest(release, v2, devicePolicy())).code).toBe('UNTRUSTED_KEY');
  });

  it('rejects fast-forward: the largest sequence there is, signed by a revoked key', () => {
    const world = createWorld({ releaseKeys: 2 });
    const [revoked] = world.releaseKeys;
    if (!revoked) throw new Error('no keys');
    const v2 = withoutReleaseKey(world, revoked, 1);
    const release = signedManifest(world, { sequence: Number.MAX_SAFE_INTEGER }, [revoked]);
    expect(thrown(() => verifyManifest(release, v2, devicePolicy())).code).toBe('UNTRUSTED_KEY');
    // Nothing moved: a release with the next honest sequence still verifies.
    const [, kept] = world.releaseKeys;
    if (!kept) throw new Error('no keys');
    expect(verifyManifest(signedManifest(world, {}, [kept]), v2, devicePolicy()).sequence).toBe(7);
  });

  it('survives the removal of one signer when the kept signers still meet the threshold', () => {
    const world = createWorld({ releaseKeys: 2 });
    const [revoked, kept] = world.releaseKeys;
    if (!revoked || !kept) throw new Error('no keys');
    const release = signedManifest(world, {}, [revoked, kept]);

    const v2 = withoutReleaseKey(world, revoked, 1);
    expect(verifyManifest(release, v2, devicePolicy()).signers).toEqual([kept.keyId]);
  });

  it('rejects a release whose kept signers fall short of the threshold once one is removed', () => {
    const world = createWorld({ releaseKeys: 2, releaseThreshold: 2 });
    const [revoked, kept] = world.releaseKeys;
    if (!revoked || !kept) throw new Error('no keys');
    const release = signedManifest(world, {}, [revoked, kept]);
    expect(verifyManifest(release, world.root, devicePolicy()).signers).toHaveLength(2);

    const error = thrown(() =>
      verifyManifest(release, withoutReleaseKey(world, revoked, 2), devicePolicy()),
    );
    expect(error.code).toBe('THRESHOLD_NOT_MET');
    expect(error.context).toMatchObject({ valid: 1, threshold: 2 });
  });
});

describe('root key revocation', () => {
  it('rejects a next root signed by a root key the current root removed', () => {
    const world = createWorld({ rootKeys: 2 });
    const [removed, kept] = world.rootKeys;
    if (!removed || !kept) throw new Error('no keys');
    const v2 = updateTrustRoot(
      world.root,
      [signedRoot(trustRootSpec([kept], world.releaseKeys, { version: 2 }), [kept])],
      now,
    );
    const v3ByRemoved = signedRoot(trustRootSpec([removed], world.releaseKeys, { version: 3 }), [
      removed,
    ]);
    expect(thrown(() => updateTrustRoot(v2, [v3ByRemoved], now)).code).toBe('UNTRUSTED_KEY');
  });
});
