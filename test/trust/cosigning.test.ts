// Threshold signing on separate machines (src/trust/cosigning.ts): each
// signer adds one signature to a copy of the same body; the copies merge.
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { SignatureSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { encodeTrustRoot } from '../../src/trust/authoring.js';
import { addSignature, mergeSignatures } from '../../src/trust/cosigning.js';
import { createSigned, maxSignatures } from '../../src/trust/envelope.js';
import { verifyManifest } from '../../src/trust/manifest.js';
import { updateTrustRoot } from '../../src/trust/trust-root.js';
import {
  createWorld,
  devicePolicy,
  keys,
  manifestBody,
  now,
  publicInfo,
  thrown,
  trustRootSpec,
} from './fixtures.js';

const rootType = 'pendulum.v1.TrustRoot';

// A v1 root with 2-of-3 root keys, and an unsigned v2 that hands over to fresh keys.
function rotationDraft() {
  const world = createWorld({ rootKeys: 3, rootThreshold: 2 });
  const own = keys(3);
  const body = encodeTrustRoot(trustRootSpec(own, keys(1), { version: 2, rootThreshold: 2 }));
  return { world, own, draft: createSigned(body, []) };
}

describe('addSignature', () => {
  it('adds one signature and keeps the ones already there', () => {
    const { world, draft } = rotationDraft();
    const [a, b] = world.rootKeys;
    if (!a || !b) throw new Error('no keys');
    const once = addSignature(rootType, draft, a);
    const twice = addSignature(rootType, once.signed, b);
    expect(once.added && twice.added).toBe(true);
    expect(twice.signed.signatures.map((s) => s.keyId)).toEqual([a.keyId, b.keyId]);
    expect(twice.signed.body).toBe(draft.body);
  });

  it('adds nothing when the same key signs again', () => {
    const { world, draft } = rotationDraft();
    const [a] = world.rootKeys;
    if (!a) throw new Error('no keys');
    const once = addSignature(rootType, draft, a).signed;
    const again = addSignature(rootType, once, a);
    expect(again.added).toBe(false);
    expect(again.signed).toBe(once);
  });

  it('replaces a signature by the same key that does not verify', () => {
    const { world, draft } = rotationDraft();
    const [a] = world.rootKeys;
    if (!a) throw new Error('no keys');
    const forged = createSigned(draft.body, [
      create(SignatureSchema, { keyId: a.keyId, sig: new Uint8Array(64) }),
    ]);
    const fixed = addSignature(rootType, forged, a);
    expect(fixed.added).toBe(true);
    expect(fixed.signed.signatures).toHaveLength(1);
    expect(fixed.signed.signatures[0]?.sig).not.toEqual(new Uint8Array(64));
  });
});

describe('mergeSignatures', () => {
  it('collects a 2-of-3 rotation signed on four machines into a root devices accept', () => {
    const { world, own, draft } = rotationDraft();
    const signers = [...world.rootKeys.slice(0, 2), ...own.slice(1)];
    const copies = signers.map((key, i) => ({
      source: `machine-${i}.json`,
      signed: addSignature(rootType, draft, key).signed,
    }));
    const merged = mergeSignatures(rootType, copies, []);
    expect(merged.signatures).toHaveLength(4);
    expect(updateTrustRoot(world.root, [merged], now).version).toBe(2);
  });

  it('keeps one signature per key when copies overlap', () => {
    const { world, draft } = rotationDraft();
    const [a, b] = world.rootKeys;
    if (!a || !b) throw new Error('no keys');
    const withA = addSignature(rootType, draft, a).signed;
    const withAB = addSignature(rootType, withA, b).signed;
    const merged = mergeSignatures(
      rootType,
      [
        { source: 'a.json', signed: withA },
        { source: 'ab.json', signed: withAB },
        { source: 'a-again.json', signed: withA },
      ],
      [],
    );
    expect(merged.signatures.map((s) => s.keyId)).toEqual([a.keyId, b.keyId]);
  });

  it('refuses copies whose bodies differ, naming both files', () => {
    const { world, draft } = rotationDraft();
    const [a, b] = world.rootKeys;
    if (!a || !b) throw new Error('no keys');
    const other = createSigned(encodeTrustRoot(trustRootSpec(keys(1), keys(1))), []);
    const error = thrown(() =>
      mergeSignatures(
        rootType,
        [
          { source: 'root-v2.alice.json', signed: addSignature(rootType, draft, a).signed },
          { source: 'root-v2.bob.json', signed: addSignature(rootType, other, b).signed },
        ],
        [],
      ),
    );
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('root-v2.alice.json');
    expect(error.message).toContain('root-v2.bob.json');
    expect(error.message).toContain('bodies differ');
  });

  it('keeps the signature that verifies when copies disagree on a known key', () => {
    const world = createWorld();
    const [key] = world.releaseKeys;
    if (!key) throw new Error('no keys');
    const draft = createSigned(
      manifestBody(() => undefined),
      [],
    );
    const bad = createSigned(draft.body, [
      create(SignatureSchema, { keyId: key.keyId, sig: new Uint8Array(64) }),
    ]);
    const good = addSignature('pendulum.v1.Manifest', draft, key).signed;
    const merged = mergeSignatures(
      'pendulum.v1.Manifest',
      [
        { source: 'bad.json', signed: bad },
        { source: 'good.json', signed: good },
      ],
      [publicInfo(key)],
    );
    expect(merged.signatures).toHaveLength(1);
    expect(verifyManifest(merged, world.root, devicePolicy()).signers).toEqual([key.keyId]);
  });

  it('refuses copies that disagree on the signature of a key it cannot check', () => {
    const { world, draft } = rotationDraft();
    const [a] = world.rootKeys;
    if (!a) throw new Error('no keys');
    const forged = createSigned(draft.body, [
      create(SignatureSchema, { keyId: a.keyId, sig: new Uint8Array(64) }),
    ]);
    const error = thrown(() =>
      mergeSignatures(
        rootType,
        [
          { source: 'honest.json', signed: addSignature(rootType, draft, a).signed },
          { source: 'forged.json', signed: forged },
        ],
        [],
      ),
    );
    expect(error.code).toBe('SIGNATURE_INVALID');
    expect(error.message).toContain('honest.json');
    expect(error.message).toContain('forged.json');
  });

  it('refuses a merge that would carry more signatures than any document may', () => {
    const { draft } = rotationDraft();
    const copies = keys(maxSignatures + 1).map((key, i) => ({
      source: `${i}.json`,
      signed: addSignature(rootType, draft, key).signed,
    }));
    expect(thrown(() => mergeSignatures(rootType, copies, [])).code).toBe('TOO_LARGE');
  });
});
