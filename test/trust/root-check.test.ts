// Why a device would refuse a trust root (src/trust/root-check.ts): the
// device's own verdict, with the missing threshold spelled out.
import { describe, expect, it } from 'vitest';
import { encodeTrustRoot } from '../../src/trust/authoring.js';
import { createSigned } from '../../src/trust/envelope.js';
import { checkTrustRoot } from '../../src/trust/root-check.js';
import { createWorld, day, keys, now, signedRoot, thrown, trustRootSpec } from './fixtures.js';

// A v1 with 2-of-3 root keys and the body of a v2 with 2-of-2 fresh keys.
function rotation() {
  const world = createWorld({ rootKeys: 3, rootThreshold: 2 });
  const own = keys(2);
  const spec = trustRootSpec(own, keys(1), { version: 2, rootThreshold: 2 });
  return { world, own, spec };
}

describe('checkTrustRoot', () => {
  it('accepts a next root signed by a threshold of the current keys and of its own', () => {
    const { world, own, spec } = rotation();
    const check = checkTrustRoot(
      signedRoot(spec, [...world.rootKeys.slice(1), ...own]),
      world.root,
      now,
    );
    expect(check.refusal).toBeUndefined();
    expect(check.bodyProblem).toBeUndefined();
    expect(check.previous?.valid).toHaveLength(2);
    expect(check.own.valid).toHaveLength(2);
    expect(check.root.version).toBe(2);
  });

  it("names the previous root's threshold as the one missing", () => {
    const { world, own, spec } = rotation();
    const check = checkTrustRoot(
      signedRoot(spec, [...world.rootKeys.slice(2), ...own]),
      world.root,
      now,
    );
    expect(check.refusal?.code).toBe('THRESHOLD_NOT_MET');
    expect(check.refusal?.message).toContain('signed by the previous root');
    expect(check.previous).toMatchObject({ valid: [world.rootKeys[2]?.keyId], threshold: 2 });
    expect(check.own.valid).toHaveLength(2);
  });

  it('names its own threshold as the one missing', () => {
    const { world, own, spec } = rotation();
    const check = checkTrustRoot(
      signedRoot(spec, [...world.rootKeys, ...own.slice(1)]),
      world.root,
      now,
    );
    expect(check.refusal?.code).toBe('THRESHOLD_NOT_MET');
    expect(check.refusal?.message).toContain('signed by its own keys');
    expect(check.own).toMatchObject({ valid: [own[1]?.keyId], threshold: 2 });
  });

  it('counts nothing on an unsigned draft, and says a device would refuse it as malformed', () => {
    const { world, spec } = rotation();
    const check = checkTrustRoot(createSigned(encodeTrustRoot(spec), []), world.root, now);
    expect(check.refusal?.code).toBe('MALFORMED');
    expect(check.previous?.valid).toEqual([]);
    expect(check.own.valid).toEqual([]);
  });

  it('refuses a version that does not follow the current one, whatever its signatures', () => {
    const { world, own } = rotation();
    const v3 = trustRootSpec(own, keys(1), { version: 3 });
    const check = checkTrustRoot(signedRoot(v3, [...world.rootKeys, ...own]), world.root, now);
    expect(check.refusal?.code).toBe('ROLLBACK_REJECTED');
    expect(check.bodyProblem?.code).toBe('ROLLBACK_REJECTED');
  });

  it('names a version that does not follow even on a draft no one has signed yet', () => {
    const { world, own } = rotation();
    const v3 = trustRootSpec(own, keys(1), { version: 3 });
    const check = checkTrustRoot(createSigned(encodeTrustRoot(v3), []), world.root, now);
    expect(check.refusal?.code).toBe('MALFORMED');
    expect(check.bodyProblem?.code).toBe('ROLLBACK_REJECTED');
  });

  it('checks a first root on its own, and refuses one that has expired', () => {
    const [root, release] = keys(2);
    if (!root || !release) throw new Error('no keys');
    const good = checkTrustRoot(
      signedRoot(trustRootSpec([root], [release]), [root]),
      undefined,
      now,
    );
    expect(good.refusal).toBeUndefined();
    expect(good.previous).toBeUndefined();
    const expired = trustRootSpec([root], [release], { expiresAt: new Date(now.getTime() - day) });
    expect(checkTrustRoot(signedRoot(expired, [root]), undefined, now).refusal?.code).toBe(
      'EXPIRED',
    );
  });

  it('throws on a body that is not a trust root at all', () => {
    const world = createWorld();
    expect(
      thrown(() => checkTrustRoot(createSigned(new Uint8Array([1, 2, 3]), []), world.root, now))
        .code,
    ).toBe('MALFORMED');
  });
});
