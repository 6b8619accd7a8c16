// Attacks on trust roots and their rotation chain (src/trust/trust-root.ts, TUF 5.3).
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  KeyAlgorithm,
  PublicKeySchema,
  type TrustRoot,
} from '../../src/gen/pendulum/v1/manifest_pb.js';
import { encodeTrustRoot, signManifest, signTrustRoot } from '../../src/trust/authoring.js';
import { createSigned } from '../../src/trust/envelope.js';
import type { KeyPair } from '../../src/trust/keys.js';
import {
  decodeTrustRoot,
  maxTrustRootBytes,
  updateTrustRoot,
  verifyPinnedTrustRoot,
} from '../../src/trust/trust-root.js';
import {
  createWorld,
  day,
  keys,
  now,
  rootBody,
  signedRoot,
  thrown,
  trustRootSpec,
  vendorId,
  type World,
} from './fixtures.js';

// nextRoot is version `version` with fresh root and release keys, signed by
// `signers` (by default: the previous root keys and its own).
function nextRoot(
  previous: readonly KeyPair[],
  version: number,
  options: { expiresAt?: Date; vendorId?: string; signers?: (own: KeyPair[]) => KeyPair[] } = {},
) {
  const own = keys(1);
  const release = keys(1);
  const spec = trustRootSpec(own, release, {
    version,
    ...(options.expiresAt ? { expiresAt: options.expiresAt } : {}),
    ...(options.vendorId ? { vendorId: options.vendorId } : {}),
  });
  const signers = options.signers ? options.signers(own) : [...previous, ...own];
  return { own, release, signed: signedRoot(spec, signers) };
}

// rotation builds v2 and v3 after a world's v1, each signed by the previous keys and its own.
function rotation(world: World, options: { v2Expires?: Date; v3Expires?: Date } = {}) {
  const v2 = nextRoot(world.rootKeys, 2, options.v2Expires ? { expiresAt: options.v2Expires } : {});
  const v3 = nextRoot(v2.own, 3, options.v3Expires ? { expiresAt: options.v3Expires } : {});
  return { v2, v3 };
}

describe('verifyPinnedTrustRoot', () => {
  it('accepts a self-signed pinned root and returns its keys', () => {
    const world = createWorld({ rootKeys: 2, releaseKeys: 3, releaseThreshold: 2 });
    expect(world.root.version).toBe(1);
    expect(world.root.vendorId).toBe(vendorId);
    expect(world.root.rootKeys.map((key) => key.keyId)).toEqual(
      world.rootKeys.map((key) => key.keyId),
    );
    expect(world.root.releaseKeys.map((key) => key.keyId)).toEqual(
      world.releaseKeys.map((key) => key.keyId),
    );
    expect(world.root.releaseThreshold).toBe(2);
    expect(world.root.signed).toBe(world.rootSigned);
  });

  it('rejects a pinned root that its own keys did not sign', () => {
    const [root, release, stranger] = keys(3);
    if (!root || !release || !stranger) throw new Error('no keys');
    const signed = signedRoot(trustRootSpec([root], [release]), [stranger]);
    expect(thrown(() => verifyPinnedTrustRoot(signed)).code).toBe('UNTRUSTED_KEY');
  });

  it('requires a threshold of root keys on the pinned root', () => {
    const rootKeys = keys(3);
    const spec = trustRootSpec(rootKeys, keys(1), { rootThreshold: 2 });
    expect(thrown(() => verifyPinnedTrustRoot(signedRoot(spec, rootKeys.slice(0, 1)))).code).toBe(
      'THRESHOLD_NOT_MET',
    );
    expect(verifyPinnedTrustRoot(signedRoot(spec, rootKeys.slice(1))).rootThreshold).toBe(2);
  });

  it('counts a root key signing twice once', () => {
    const rootKeys = keys(2);
    const [first] = rootKeys;
    if (!first) throw new Error('no keys');
    const spec = trustRootSpec(rootKeys, keys(1), { rootThreshold: 2 });
    expect(thrown(() => verifyPinnedTrustRoot(signedRoot(spec, [first, first]))).code).toBe(
      'THRESHOLD_NOT_MET',
    );
  });

  it('refuses a root that lists one key twice to meet its threshold alone', () => {
    const [root, release] = keys(2);
    if (!root || !release) throw new Error('no keys');
    const body = rootBody(trustRootSpec([root], [release]), (r) => {
      const key = r.rootKeys[0];
      if (key) r.rootKeys.push(create(PublicKeySchema, key));
      r.rootThreshold = 2;
    });
    const error = thrown(() => verifyPinnedTrustRoot(signTrustRoot(body, [root, root])));
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe('root_keys[1]');
  });

  it('rejects a pinned root with an empty signature list as malformed', () => {
    const world = createWorld();
    const unsigned = createSigned(world.rootSigned.body, []);
    const error = thrown(() => verifyPinnedTrustRoot(unsigned));
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe('signatures');
  });

  it('rejects a pinned root whose body was altered after signing', () => {
    const world = createWorld();
    const altered = createSigned(
      encodeTrustRoot({ ...world.rootSpec, expiresAt: new Date(now.getTime() + 3650 * day) }),
      world.rootSigned.signatures,
    );
    expect(thrown(() => verifyPinnedTrustRoot(altered)).code).toBe('SIGNATURE_INVALID');
  });

  it('does not accept a manifest signature as a trust-root signature', () => {
    const world = createWorld();
    const confused = signManifest(encodeTrustRoot(world.rootSpec), world.rootKeys);
    expect(thrown(() => verifyPinnedTrustRoot(confused)).code).toBe('SIGNATURE_INVALID');
  });

  it('refuses an oversized root before looking at it', () => {
    const world = createWorld();
    const huge = createSigned(new Uint8Array(maxTrustRootBytes + 1), world.rootSigned.signatures);
    expect(thrown(() => verifyPinnedTrustRoot(huge)).code).toBe('TOO_LARGE');
  });

  it.each<[string, (root: TrustRoot) => void, string]>([
    [
      'version 0',
      (r) => {
        r.version = 0;
      },
      'version',
    ],
    [
      'no expiry',
      (r) => {
        r.expires = undefined;
      },
      'expires',
    ],
    [
      'an expiry outside the date range',
      (r) => {
        if (r.expires) r.expires.seconds = -9_000_000_000_000n;
      },
      'expires',
    ],
    [
      'no vendor',
      (r) => {
        r.vendorId = '';
      },
      'vendor_id',
    ],
    [
      'no release keys',
      (r) => {
        r.releaseKeys = [];
      },
      'release_keys',
    ],
    [
      'no root keys',
      (r) => {
        r.rootKeys = [];
      },
      'root_keys',
    ],
    [
      'a release key listed twice',
      (r) => {
        const key = r.releaseKeys[0];
        if (key) r.releaseKeys.push(create(PublicKeySchema, key));
      },
      'release_keys[1]',
    ],
    [
      'a root threshold of 0',
      (r) => {
        r.rootThreshold = 0;
      },
      'root_threshold',
    ],
    [
      'a root threshold above its keys',
      (r) => {
        r.rootThreshold = 2;
      },
      'root_threshold',
    ],
    [
      'a release threshold of 0',
      (r) => {
        r.releaseThreshold = 0;
      },
      'release_threshold',
    ],
    [
      'a release threshold above its keys',
      (r) => {
        r.releaseThreshold = 2;
      },
      'release_threshold',
    ],
    [
      'a short release key',
      (r) => {
        r.releaseKeys.push(
          create(PublicKeySchema, {
            algorithm: KeyAlgorithm.ED25519,
            publicKey: new Uint8Array(31),
          }),
        );
      },
      'release_keys[1]',
    ],
    [
      'a key of unspecified algorithm',
      (r) => {
        r.releaseKeys.push(create(PublicKeySchema, { publicKey: new Uint8Array(32).fill(7) }));
      },
      'release_keys[1]',
    ],
  ])('rejects a root with %s', (_name, mutate, field) => {
    const [root, release] = keys(2);
    if (!root || !release) throw new Error('no keys');
    const body = rootBody(trustRootSpec([root], [release]), mutate);
    const error = thrown(() => verifyPinnedTrustRoot(signTrustRoot(body, [root])));
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe(field);
  });
});

describe('updateTrustRoot', () => {
  it('accepts a rotation v1 → v2 → v3 and trusts only the newest keys', () => {
    const world = createWorld();
    const { v2, v3 } = rotation(world);
    const newest = updateTrustRoot(world.root, [v2.signed, v3.signed], now);
    expect(newest.version).toBe(3);
    expect(newest.rootKeys.map((key) => key.keyId)).toEqual(v3.own.map((key) => key.keyId));
    expect(newest.releaseKeys.map((key) => key.keyId)).toEqual(v3.release.map((key) => key.keyId));
    expect(newest.signed).toBe(v3.signed);
  });

  it('walks the chain one call at a time to the same result', () => {
    const world = createWorld();
    const { v2, v3 } = rotation(world);
    const step = updateTrustRoot(updateTrustRoot(world.root, [v2.signed], now), [v3.signed], now);
    expect(step.version).toBe(3);
  });

  it('keeps the current root when there is nothing new', () => {
    const world = createWorld();
    expect(updateTrustRoot(world.root, [], now)).toBe(world.root);
  });

  it('rejects a new root signed only by its own keys, not the old ones', () => {
    const world = createWorld();
    const v2 = nextRoot(world.rootKeys, 2, { signers: (own) => own });
    expect(thrown(() => updateTrustRoot(world.root, [v2.signed], now)).code).toBe('UNTRUSTED_KEY');
  });

  it('rejects a new root signed only by the old keys, not its own', () => {
    const world = createWorld();
    const v2 = nextRoot(world.rootKeys, 2, { signers: () => world.rootKeys });
    expect(thrown(() => updateTrustRoot(world.root, [v2.signed], now)).code).toBe('UNTRUSTED_KEY');
  });

  it('requires a threshold of the old root keys on the new root', () => {
    const world = createWorld({ rootKeys: 3, rootThreshold: 2 });
    const v2 = nextRoot(world.rootKeys, 2, {
      signers: (own) => [...world.rootKeys.slice(0, 1), ...own],
    });
    expect(thrown(() => updateTrustRoot(world.root, [v2.signed], now)).code).toBe(
      'THRESHOLD_NOT_MET',
    );
    const ok = nextRoot(world.rootKeys, 2, {
      signers: (own) => [...world.rootKeys.slice(1), ...own],
    });
    expect(updateTrustRoot(world.root, [ok.signed], now).version).toBe(2);
  });

  it('requires a threshold of its own root keys on the new root', () => {
    const world = createWorld();
    const own = keys(3);
    const spec = trustRootSpec(own, keys(1), { version: 2, rootThreshold: 3 });
    const signed = signedRoot(spec, [...world.rootKeys, ...own.slice(0, 2)]);
    expect(thrown(() => updateTrustRoot(world.root, [signed], now)).code).toBe('THRESHOLD_NOT_MET');
  });

  it('rejects a version skip (v1 → v3)', () => {
    const world = createWorld();
    const v3 = nextRoot(world.rootKeys, 3);
    expect(thrown(() => updateTrustRoot(world.root, [v3.signed], now)).code).toBe(
      'ROLLBACK_REJECTED',
    );
  });

  it('rejects a replay of the version already trusted', () => {
    const world = createWorld();
    expect(thrown(() => updateTrustRoot(world.root, [world.rootSigned], now)).code).toBe(
      'ROLLBACK_REJECTED',
    );
  });

  it('rejects a root with a lower version, even when signed by the current keys', () => {
    const world = createWorld();
    const { v2 } = rotation(world);
    const current = updateTrustRoot(world.root, [v2.signed], now);
    const older = nextRoot(v2.own, 1);
    expect(thrown(() => updateTrustRoot(current, [older.signed], now)).code).toBe(
      'ROLLBACK_REJECTED',
    );
  });

  it('rejects a chain that hands over to another vendor', () => {
    const world = createWorld();
    const v2 = nextRoot(world.rootKeys, 2, { vendorId: 'globex' });
    const error = thrown(() => updateTrustRoot(world.root, [v2.signed], now));
    expect(error.code).toBe('INCOMPATIBLE');
    expect(error.context.field).toBe('vendor_id');
  });

  it('rejects a chain whose final root has expired, even if every link is signed', () => {
    const world = createWorld();
    const { v2, v3 } = rotation(world, { v3Expires: new Date(now.getTime() - day) });
    expect(thrown(() => updateTrustRoot(world.root, [v2.signed, v3.signed], now)).code).toBe(
      'EXPIRED',
    );
  });

  it('accepts expired intermediate roots when the final root is current', () => {
    const world = createWorld();
    const { v2, v3 } = rotation(world, { v2Expires: new Date(now.getTime() - 100 * day) });
    expect(updateTrustRoot(world.root, [v2.signed, v3.signed], now).version).toBe(3);
  });

  it('rejects an expired pinned root when there is nothing newer', () => {
    const [root, release] = keys(2);
    if (!root || !release) throw new Error('no keys');
    const pinned = verifyPinnedTrustRoot(
      signedRoot(trustRootSpec([root], [release], { expiresAt: new Date(now.getTime() - 1) }), [
        root,
      ]),
    );
    expect(thrown(() => updateTrustRoot(pinned, [], now)).code).toBe('EXPIRED');
  });

  it('rejects the whole chain when one link in the middle is forged', () => {
    const world = createWorld();
    const v2 = nextRoot(world.rootKeys, 2, { signers: (own) => [...keys(1), ...own] });
    const v3 = nextRoot(v2.own, 3);
    expect(thrown(() => updateTrustRoot(world.root, [v2.signed, v3.signed], now)).code).toBe(
      'UNTRUSTED_KEY',
    );
  });

  it('does not decode a new root that the current keys did not sign', () => {
    const world = createWorld();
    const garbage = signTrustRoot(new Uint8Array([0x08, 0xff]), keys(1));
    expect(thrown(() => updateTrustRoot(world.root, [garbage], now)).code).toBe('UNTRUSTED_KEY');
  });

  it('rejects a new root with an empty signature list as malformed', () => {
    const world = createWorld();
    const v2 = nextRoot(world.rootKeys, 2);
    const error = thrown(() =>
      updateTrustRoot(world.root, [createSigned(v2.signed.body, [])], now),
    );
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe('signatures');
  });

  it('rejects a fork: another root with the trusted version, signed by the current keys', () => {
    const world = createWorld();
    const fork = nextRoot(world.rootKeys, 1);
    expect(thrown(() => updateTrustRoot(world.root, [fork.signed], now)).code).toBe(
      'ROLLBACK_REJECTED',
    );
  });

  it('rejects a new root that keeps an old key but is signed by it alone, short of its own threshold', () => {
    const world = createWorld();
    const [added] = keys(1);
    if (!added) throw new Error('no keys');
    const spec = trustRootSpec([...world.rootKeys, added], keys(1), {
      version: 2,
      rootThreshold: 2,
    });
    const error = thrown(() =>
      updateTrustRoot(world.root, [signedRoot(spec, world.rootKeys)], now),
    );
    expect(error.code).toBe('THRESHOLD_NOT_MET');
    expect(error.context).toMatchObject({ valid: 1, threshold: 2 });
    expect(
      updateTrustRoot(world.root, [signedRoot(spec, [...world.rootKeys, added])], now).version,
    ).toBe(2);
  });

  it('lets a key listed in both roots count toward both thresholds', () => {
    const world = createWorld();
    const spec = trustRootSpec([...world.rootKeys, ...keys(1)], keys(1), { version: 2 });
    expect(updateTrustRoot(world.root, [signedRoot(spec, world.rootKeys)], now).version).toBe(2);
  });

  it('survives a two-step rotation v1 → v2 → v3 in which v3 no longer lists any v1 key', () => {
    // v1: {a} 1-of-1. v2: {a, b, c} 2-of-3. v3: {b, c, d} 2-of-3, without a.
    const world = createWorld();
    const [a] = world.rootKeys;
    const [b, c, d] = keys(3);
    if (!a || !b || !c || !d) throw new Error('no keys');
    const v2 = signedRoot(trustRootSpec([a, b, c], keys(1), { version: 2, rootThreshold: 2 }), [
      a,
      b,
    ]);
    const v3 = signedRoot(trustRootSpec([b, c, d], keys(1), { version: 3, rootThreshold: 2 }), [
      b,
      c,
    ]);
    const newest = updateTrustRoot(world.root, [v2, v3], now);
    expect(newest.version).toBe(3);
    expect(newest.rootKeys.map((key) => key.keyId)).not.toContain(a.keyId);

    // From then on a, the retired v1 key, counts for nothing: a v4 signed by
    // a and b carries one of the two v3 signatures it needs.
    const v4ByA = signedRoot(trustRootSpec([a, b], keys(1), { version: 4, rootThreshold: 1 }), [
      a,
      b,
    ]);
    const error = thrown(() => updateTrustRoot(newest, [v4ByA], now));
    expect(error.code).toBe('THRESHOLD_NOT_MET');
    expect(error.context).toMatchObject({ valid: 1, threshold: 2 });
  });

  it('rejects a v3 that only the v1 keys signed, once v2 has replaced them', () => {
    const world = createWorld();
    const { v2 } = rotation(world);
    const v3 = nextRoot(world.rootKeys, 3);
    expect(thrown(() => updateTrustRoot(world.root, [v2.signed, v3.signed], now)).code).toBe(
      'UNTRUSTED_KEY',
    );
  });

  it('rejects a chain that skips a version in the middle (v1 → v2 → v4)', () => {
    const world = createWorld();
    const { v2 } = rotation(world);
    const v4 = nextRoot(v2.own, 4);
    expect(thrown(() => updateTrustRoot(world.root, [v2.signed, v4.signed], now)).code).toBe(
      'ROLLBACK_REJECTED',
    );
  });

  it('rejects a new root whose body was altered after signing', () => {
    const world = createWorld();
    const v2 = nextRoot(world.rootKeys, 2);
    const spec = trustRootSpec(v2.own, keys(1), { version: 2 });
    const altered = createSigned(encodeTrustRoot(spec), v2.signed.signatures);
    expect(thrown(() => updateTrustRoot(world.root, [altered], now)).code).toBe(
      'SIGNATURE_INVALID',
    );
  });
});

describe('decodeTrustRoot (a root loaded from the agent journal or the server store)', () => {
  it('loads a root that was verified before', () => {
    const world = createWorld();
    expect(decodeTrustRoot(world.rootSigned, 'journal trust root').version).toBe(1);
  });

  it('rejects a stored root with an empty signature list as malformed', () => {
    const world = createWorld();
    const error = thrown(() =>
      decodeTrustRoot(createSigned(world.rootSigned.body, []), 'stored trust root'),
    );
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain('stored trust root');
    expect(error.context.field).toBe('signatures');
  });

  it.each([
    ['root_threshold', (r: TrustRoot) => Object.assign(r, { rootThreshold: 0 })],
    ['release_threshold', (r: TrustRoot) => Object.assign(r, { releaseThreshold: 0 })],
  ])('rejects a stored root with a %s of 0', (field, mutate) => {
    const world = createWorld();
    const body = rootBody(world.rootSpec, mutate);
    const error = thrown(() =>
      decodeTrustRoot(signTrustRoot(body, world.rootKeys), 'stored trust root'),
    );
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe(field);
  });
});
