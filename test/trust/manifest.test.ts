// Attacks on manifest verification (src/trust/manifest.ts), one per test.
import { create } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import {
  ComponentKind,
  PayloadEncoding,
  SignatureSchema,
} from '../../src/gen/pendulum/v1/manifest_pb.js';
import { encodeManifest, signManifest, signTrustRoot } from '../../src/trust/authoring.js';
import { sha256, toHex } from '../../src/trust/digest.js';
import {
  createSigned,
  decodeSigned,
  encodeSigned,
  maxSignatures,
} from '../../src/trust/envelope.js';
import {
  floorOnCommit,
  maxBootAttempts,
  maxConfirmDeadlineMs,
  maxManifestBytes,
  verifyManifest,
} from '../../src/trust/manifest.js';
import { updateTrustRoot } from '../../src/trust/trust-root.js';
import {
  createWorld,
  devicePolicy,
  keys,
  manifestBody,
  manifestSpec,
  now,
  signedManifest,
  signedRoot,
  thrown,
  trustRootSpec,
} from './fixtures.js';

const encoder = new TextEncoder();

describe('verifyManifest', () => {
  it('accepts a manifest signed by the release key and returns what was signed', () => {
    const world = createWorld();
    const signed = signedManifest(world, { irreversible: true });
    const verified = verifyManifest(signed, world.root, devicePolicy());
    const spec = manifestSpec();
    expect(verified).toMatchObject({
      id: toHex(sha256(signed.body)),
      signers: [world.releaseKeys[0]?.keyId],
      vendorId: spec.vendorId,
      classId: spec.classId,
      sequence: 7,
      version: '1.2.0',
      expiresAt: spec.expiresAt,
      bootAttempts: 3,
      confirmDeadlineMs: 600_000,
      irreversible: true,
      text: 'release notes',
    });
    expect(verified.components).toEqual([
      {
        name: 'rootfs',
        kind: ComponentKind.ROOTFS,
        size: 1024 * 1024,
        sha256: spec.components[0]?.sha256,
        encoding: PayloadEncoding.RAW,
      },
    ]);
  });

  describe('signatures', () => {
    it('rejects a manifest signed by an untrusted key', () => {
      const world = createWorld();
      const error = thrown(() =>
        verifyManifest(signedManifest(world, {}, keys(1)), world.root, devicePolicy()),
      );
      expect(error.code).toBe('UNTRUSTED_KEY');
    });

    it('rejects a manifest signed by a root key instead of a release key', () => {
      const world = createWorld();
      const signed = signedManifest(world, {}, world.rootKeys);
      expect(thrown(() => verifyManifest(signed, world.root, devicePolicy())).code).toBe(
        'UNTRUSTED_KEY',
      );
    });

    it('rejects a manifest with an empty signature list as malformed', () => {
      const world = createWorld();
      const signed = signedManifest(world, {}, []);
      const error = thrown(() => verifyManifest(signed, world.root, devicePolicy()));
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('signatures');
    });

    it('counts two signatures by the same key once', () => {
      const world = createWorld({ releaseKeys: 2, releaseThreshold: 2 });
      const [first] = world.releaseKeys;
      if (first === undefined) throw new Error('fixture has no release key');
      const signed = signedManifest(world, {}, [first, first]);
      expect(signed.signatures).toHaveLength(2);
      const error = thrown(() => verifyManifest(signed, world.root, devicePolicy()));
      expect(error.code).toBe('THRESHOLD_NOT_MET');
    });

    it('rejects a manifest signed by fewer release keys than the threshold', () => {
      const world = createWorld({ releaseKeys: 3, releaseThreshold: 2 });
      const signed = signedManifest(world, {}, world.releaseKeys.slice(0, 1));
      expect(thrown(() => verifyManifest(signed, world.root, devicePolicy())).code).toBe(
        'THRESHOLD_NOT_MET',
      );
    });

    it('does not let untrusted signatures make up a missing threshold', () => {
      const world = createWorld({ releaseKeys: 2, releaseThreshold: 2 });
      const signed = signedManifest(world, {}, [...world.releaseKeys.slice(0, 1), ...keys(3)]);
      expect(thrown(() => verifyManifest(signed, world.root, devicePolicy())).code).toBe(
        'THRESHOLD_NOT_MET',
      );
    });

    it('accepts a threshold of release keys alongside signatures by unknown keys', () => {
      const world = createWorld({ releaseKeys: 3, releaseThreshold: 2 });
      const signed = signedManifest(world, {}, [...keys(1), ...world.releaseKeys.slice(1)]);
      const verified = verifyManifest(signed, world.root, devicePolicy());
      expect([...verified.signers].sort()).toEqual(
        world.releaseKeys
          .slice(1)
          .map((key) => key.keyId)
          .sort(),
      );
    });

    it('rejects a manifest whose body was altered after signing', () => {
      const world = createWorld();
      const original = signedManifest(world, { sequence: 7 });
      const altered = createSigned(
        encodeManifest(manifestSpec({ sequence: 8 })),
        original.signatures,
      );
      expect(thrown(() => verifyManifest(altered, world.root, devicePolicy())).code).toBe(
        'SIGNATURE_INVALID',
      );
    });

    it('rejects a signature that names a trusted key but was made by another', () => {
      const world = createWorld();
      const [attacker] = keys(1);
      const [release] = world.releaseKeys;
      if (attacker === undefined || release === undefined) throw new Error('no keys');
      const forged = signedManifest(world, {}, [attacker]);
      const relabelled = createSigned(forged.body, [
        create(SignatureSchema, { keyId: release.keyId, sig: forged.signatures[0]?.sig }),
      ]);
      expect(thrown(() => verifyManifest(relabelled, world.root, devicePolicy())).code).toBe(
        'SIGNATURE_INVALID',
      );
    });

    it('rejects a truncated signature by a trusted key without crashing', () => {
      const world = createWorld();
      const signed = signedManifest(world);
      const [signature] = signed.signatures;
      if (signature === undefined) throw new Error('no signature');
      const truncated = createSigned(signed.body, [
        create(SignatureSchema, { keyId: signature.keyId, sig: signature.sig.subarray(0, 63) }),
      ]);
      expect(thrown(() => verifyManifest(truncated, world.root, devicePolicy())).code).toBe(
        'SIGNATURE_INVALID',
      );
    });

    it('does not accept a trust-root signature as a manifest signature', () => {
      // The release key signs the manifest bytes, but as a trust root: the
      // pre-authentication encoding names the type, so it must not verify.
      const world = createWorld();
      const confused = signTrustRoot(encodeManifest(manifestSpec()), world.releaseKeys);
      expect(thrown(() => verifyManifest(confused, world.root, devicePolicy())).code).toBe(
        'SIGNATURE_INVALID',
      );
    });

    it('rejects a manifest signed by a release key the newer trust root revoked', () => {
      const world = createWorld();
      const [newRelease, newRoot] = keys(2);
      if (newRelease === undefined || newRoot === undefined) throw new Error('no keys');
      const v2 = updateTrustRoot(
        world.root,
        [
          signedRoot(trustRootSpec([newRoot], [newRelease], { version: 2 }), [
            ...world.rootKeys,
            newRoot,
          ]),
        ],
        now,
      );
      const signedByOld = signedManifest(world);
      expect(() => verifyManifest(signedByOld, world.root, devicePolicy())).not.toThrow();
      expect(thrown(() => verifyManifest(signedByOld, v2, devicePolicy())).code).toBe(
        'UNTRUSTED_KEY',
      );
      expect(
        verifyManifest(signedManifest(world, {}, [newRelease]), v2, devicePolicy()).sequence,
      ).toBe(7);
    });

    it('does not decode a body that no trusted key signed', () => {
      const world = createWorld();
      const garbage = signManifest(new Uint8Array([0xff, 0xff, 0xff, 0xff]), keys(1));
      expect(thrown(() => verifyManifest(garbage, world.root, devicePolicy())).code).toBe(
        'UNTRUSTED_KEY',
      );
    });
  });

  describe('exact bytes', () => {
    it('rejects an envelope with one body byte flipped in transit', () => {
      const world = createWorld();
      const bytes = encodeSigned(signedManifest(world));
      expect(
        verifyManifest(
          decodeSigned(bytes, maxManifestBytes, 'manifest'),
          world.root,
          devicePolicy(),
        ).text,
      ).toBe('release notes');
      // Flip a letter inside the release notes: the body still decodes, only
      // the signature can tell.
      const at = Buffer.from(bytes).indexOf('release notes');
      expect(at).toBeGreaterThan(0);
      const tampered = Uint8Array.from(bytes);
      tampered[at] = 's'.charCodeAt(0);
      const decoded = decodeSigned(tampered, maxManifestBytes, 'manifest');
      expect(thrown(() => verifyManifest(decoded, world.root, devicePolicy())).code).toBe(
        'SIGNATURE_INVALID',
      );
    });

    it('verifies the signed bytes as sent, without re-encoding them', () => {
      // A repeated field is valid protobuf (last one wins) but not what an
      // encoder produces: a verifier that re-encoded would reject this.
      const world = createWorld();
      const canonical = encodeManifest(manifestSpec());
      const extra = new BinaryWriter()
        .tag(10, WireType.LengthDelimited)
        .string('late notes')
        .finish();
      const body = new Uint8Array([...canonical, ...extra]);
      const bytes = encodeSigned(signManifest(body, world.releaseKeys));
      const verified = verifyManifest(
        decodeSigned(bytes, maxManifestBytes, 'manifest'),
        world.root,
        devicePolicy(),
      );
      expect(verified.text).toBe('late notes');
      expect(verified.id).toBe(toHex(sha256(body)));
      expect(verified.signed.body).toEqual(body);
    });
  });

  describe('envelope limits', () => {
    it('refuses an oversized envelope before parsing', () => {
      const bytes = new Uint8Array(maxManifestBytes + 1).fill(0xff);
      const error = thrown(() => decodeSigned(bytes, maxManifestBytes, 'manifest'));
      expect(error.code).toBe('TOO_LARGE');
    });

    it('refuses an oversized body even when a trusted key signed it', () => {
      const world = createWorld();
      const text = 'x'.repeat(maxManifestBytes);
      const signed = signedManifest(world, { text });
      expect(thrown(() => verifyManifest(signed, world.root, devicePolicy())).code).toBe(
        'TOO_LARGE',
      );
    });

    it('refuses an envelope carrying too many signatures', () => {
      const world = createWorld();
      const signed = signedManifest(world, {}, [...world.releaseKeys, ...keys(maxSignatures)]);
      expect(signed.signatures).toHaveLength(maxSignatures + 1);
      expect(thrown(() => verifyManifest(signed, world.root, devicePolicy())).code).toBe(
        'TOO_LARGE',
      );
    });

    it('accepts the most signatures allowed', () => {
      const world = createWorld();
      const signed = signedManifest(world, {}, [...keys(maxSignatures - 1), ...world.releaseKeys]);
      expect(verifyManifest(signed, world.root, devicePolicy()).sequence).toBe(7);
    });

    it('rejects envelope bytes that are not a signed envelope', () => {
      const error = thrown(() =>
        decodeSigned(encoder.encode('{"body":"not protobuf"}'), maxManifestBytes, 'manifest'),
      );
      expect(error.code).toBe('MALFORMED');
    });

    it('rejects an envelope with an empty body', () => {
      const world = createWorld();
      const signed = signManifest(new Uint8Array(), world.releaseKeys);
      expect(thrown(() => verifyManifest(signed, world.root, devicePolicy())).code).toBe(
        'MALFORMED',
      );
    });

    it('rejects a signed body that does not decode as a manifest', () => {
      const world = createWorld();
      const signed = signManifest(new Uint8Array([0x08, 0xff]), world.releaseKeys);
      expect(thrown(() => verifyManifest(signed, world.root, devicePolicy())).code).toBe(
        'MALFORMED',
      );
    });
  });

  describe('policy', () => {
    it('rejects a manifest in a format version it does not know', () => {
      const world = createWorld();
      const signed = signManifest(
        manifestBody((m) => {
          m.formatVersion = 2;
        }),
        world.releaseKeys,
      );
      expect(thrown(() => verifyManifest(signed, world.root, devicePolicy())).code).toBe(
        'INCOMPATIBLE',
      );
    });

    it('rejects an expired manifest', () => {
      const world = createWorld();
      const signed = signedManifest(world, { expiresAt: new Date(now.getTime() - 1000) });
      const error = thrown(() => verifyManifest(signed, world.root, devicePolicy()));
      expect(error.code).toBe('EXPIRED');
    });

    it('rejects a manifest verified against a trust root that has expired', () => {
      const world = createWorld();
      const later = new Date(world.root.expiresAt.getTime() + 1000);
      const signed = signedManifest(world, { expiresAt: new Date(later.getTime() + 86_400_000) });
      const error = thrown(() => verifyManifest(signed, world.root, devicePolicy({ now: later })));
      expect(error.code).toBe('EXPIRED');
      expect(error.message).toContain('trust root');
    });

    it('rejects a manifest at the instant it expires', () => {
      const world = createWorld();
      const signed = signedManifest(world, { expiresAt: now });
      expect(thrown(() => verifyManifest(signed, world.root, devicePolicy())).code).toBe('EXPIRED');
    });

    it('rejects a manifest without an expiry', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        m.expires = undefined;
      });
      const error = thrown(() =>
        verifyManifest(signManifest(body, world.releaseKeys), world.root, devicePolicy()),
      );
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('expires');
    });

    it('rejects an expiry too far in the future to be a date instead of never expiring', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        if (m.expires) m.expires.seconds = 9_000_000_000_000n;
      });
      const error = thrown(() =>
        verifyManifest(signManifest(body, world.releaseKeys), world.root, devicePolicy()),
      );
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('expires');
    });

    it('rejects a manifest for another device class', () => {
      const world = createWorld();
      const signed = signedManifest(world, { classId: 'acme-camera-v1' });
      const error = thrown(() => verifyManifest(signed, world.root, devicePolicy()));
      expect(error.code).toBe('INCOMPATIBLE');
      expect(error.context.field).toBe('class_id');
    });

    it('rejects a manifest for another vendor', () => {
      const world = createWorld();
      const signed = signedManifest(world, { vendorId: 'globex' });
      const error = thrown(() => verifyManifest(signed, world.root, devicePolicy()));
      expect(error.code).toBe('INCOMPATIBLE');
      expect(error.context.field).toBe('vendor_id');
    });

    it('accepts any class when the policy names none (the server at publish time)', () => {
      const world = createWorld();
      const signed = signedManifest(world, { classId: 'acme-camera-v1' });
      expect(verifyManifest(signed, world.root, devicePolicy({ classId: null })).classId).toBe(
        'acme-camera-v1',
      );
    });

    it('rejects a manifest with an empty class', () => {
      const world = createWorld();
      const signed = signedManifest(world, { classId: '' });
      expect(
        thrown(() => verifyManifest(signed, world.root, devicePolicy({ classId: null }))).code,
      ).toBe('MALFORMED');
    });

    it('rejects a sequence that is not above the committed one', () => {
      const world = createWorld();
      for (const sequence of [6, 5, 1]) {
        const signed = signedManifest(world, { sequence });
        const error = thrown(() =>
          verifyManifest(signed, world.root, devicePolicy({ aboveSequence: 6 })),
        );
        expect(error.code, `sequence ${sequence}`).toBe('ROLLBACK_REJECTED');
      }
      expect(
        verifyManifest(
          signedManifest(world, { sequence: 7 }),
          world.root,
          devicePolicy({ aboveSequence: 6 }),
        ).sequence,
      ).toBe(7);
    });

    it('rejects sequence zero even when any sequence is acceptable', () => {
      const world = createWorld();
      const signed = signedManifest(world, { sequence: 0 });
      expect(
        thrown(() => verifyManifest(signed, world.root, devicePolicy({ aboveSequence: null })))
          .code,
      ).toBe('MALFORMED');
    });

    it('rejects a sequence above 2^53 instead of rounding it', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        m.sequence = 2n ** 53n + 1n;
      });
      const error = thrown(() =>
        verifyManifest(
          signManifest(body, world.releaseKeys),
          world.root,
          devicePolicy({ aboveSequence: null }),
        ),
      );
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('sequence');
    });

    it('rejects a validly signed release below the anti-rollback floor, even above the committed sequence', () => {
      const world = createWorld();
      // Committed sequence lost (journal reset to the factory's 2); the floor of 5 survived.
      const policy = devicePolicy({ aboveSequence: 2, floor: 5 });
      for (const sequence of [4, 3]) {
        const error = thrown(() =>
          verifyManifest(signedManifest(world, { sequence }), world.root, policy),
        );
        expect(error.code, `sequence ${sequence}`).toBe('ROLLBACK_REJECTED');
        expect(error.message).toBe(
          `manifest 1.2.0: sequence ${sequence} is below the device's anti-rollback floor 5`,
        );
        expect(error.context.field).toBe('sequence');
      }
      // The floor itself is allowed: it is the release that set it.
      expect(
        verifyManifest(signedManifest(world, { sequence: 5 }), world.root, policy).sequence,
      ).toBe(5);
    });

    it('accepts any sequence against no floor (the server at publish time)', () => {
      const world = createWorld();
      const signed = signedManifest(world, { sequence: 1 });
      const server = devicePolicy({ aboveSequence: null, floor: null });
      expect(verifyManifest(signed, world.root, server).sequence).toBe(1);
    });

    it('returns the rollback floor the release sets, 0 when it sets none', () => {
      const world = createWorld();
      const floored = signedManifest(world, { sequence: 7, rollbackFloor: 7 });
      expect(verifyManifest(floored, world.root, devicePolicy()).rollbackFloor).toBe(7);
      expect(verifyManifest(signedManifest(world), world.root, devicePolicy()).rollbackFloor).toBe(
        0,
      );
    });

    it('rejects a rollback floor above its own sequence, at publish time too', () => {
      const world = createWorld();
      const signed = signedManifest(world, { sequence: 7, rollbackFloor: 8 });
      for (const policy of [devicePolicy(), devicePolicy({ aboveSequence: null, floor: null })]) {
        const error = thrown(() => verifyManifest(signed, world.root, policy));
        expect(error.code).toBe('MALFORMED');
        expect(error.context.field).toBe('rollback_floor');
        expect(error.message).toBe('manifest: field "rollback_floor" (8) is above the sequence 7');
      }
    });

    it('raises the floor on commit to the sequence when irreversible, else to rollback_floor', () => {
      const world = createWorld();
      const floorOf = (spec: Parameters<typeof signedManifest>[1]) =>
        floorOnCommit(verifyManifest(signedManifest(world, spec), world.root, devicePolicy()));
      expect(floorOf({ sequence: 7 })).toBe(0);
      expect(floorOf({ sequence: 7, rollbackFloor: 4 })).toBe(4);
      expect(floorOf({ sequence: 7, irreversible: true })).toBe(7);
      expect(floorOf({ sequence: 7, rollbackFloor: 4, irreversible: true })).toBe(7);
    });

    it('rejects a rollback floor above 2^53 instead of rounding it', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        m.rollbackFloor = 2n ** 53n + 1n;
      });
      const error = thrown(() =>
        verifyManifest(signManifest(body, world.releaseKeys), world.root, devicePolicy()),
      );
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('rollback_floor');
    });

    it('rejects an empty human version', () => {
      const world = createWorld();
      expect(
        thrown(() =>
          verifyManifest(signedManifest(world, { version: '' }), world.root, devicePolicy()),
        ).code,
      ).toBe('MALFORMED');
    });
  });

  describe('components', () => {
    it('rejects a component larger than the policy allows', () => {
      const world = createWorld();
      const signed = signedManifest(world, {
        components: [
          { name: 'rootfs', kind: ComponentKind.ROOTFS, sha256: '00'.repeat(32), size: 4097 },
        ],
      });
      const error = thrown(() =>
        verifyManifest(signed, world.root, devicePolicy({ maxComponentBytes: 4096 })),
      );
      expect(error.code).toBe('TOO_LARGE');
      expect(error.context.field).toBe('components[0].size');
    });

    it('accepts a component exactly at the size limit', () => {
      const world = createWorld();
      const signed = signedManifest(world, {
        components: [
          { name: 'rootfs', kind: ComponentKind.ROOTFS, sha256: '00'.repeat(32), size: 4096 },
        ],
      });
      expect(
        verifyManifest(signed, world.root, devicePolicy({ maxComponentBytes: 4096 })).components[0]
          ?.size,
      ).toBe(4096);
    });

    it('rejects a component size above 2^53 instead of rounding it', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        const component = m.components[0];
        if (component) component.size = 2n ** 53n + 1n;
      });
      const error = thrown(() =>
        verifyManifest(
          signManifest(body, world.releaseKeys),
          world.root,
          devicePolicy({ maxComponentBytes: Number.MAX_SAFE_INTEGER }),
        ),
      );
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('components[0].size');
    });

    it.each([
      ['no components', { components: [] }, 'components'],
      [
        'two components with one name',
        {
          components: [
            { name: 'app', kind: ComponentKind.APP_DIRECTORY, sha256: '00'.repeat(32), size: 1 },
            { name: 'app', kind: ComponentKind.APP_DIRECTORY, sha256: '11'.repeat(32), size: 1 },
          ],
        },
        'components[1].name',
      ],
      [
        'a component of unspecified kind',
        {
          components: [
            { name: 'x', kind: ComponentKind.UNSPECIFIED, sha256: '00'.repeat(32), size: 1 },
          ],
        },
        'components[0].kind',
      ],
      [
        'an empty component',
        {
          components: [{ name: 'x', kind: ComponentKind.ROOTFS, sha256: '00'.repeat(32), size: 0 }],
        },
        'components[0].size',
      ],
    ] as const)('rejects a manifest with %s', (_name, overrides, field) => {
      const world = createWorld();
      const signed = signedManifest(world, overrides);
      const error = thrown(() => verifyManifest(signed, world.root, devicePolicy()));
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe(field);
    });

    it('rejects a component digest that is not 32 bytes', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        const component = m.components[0];
        if (component) component.sha256 = component.sha256.subarray(0, 20);
      });
      const error = thrown(() =>
        verifyManifest(signManifest(body, world.releaseKeys), world.root, devicePolicy()),
      );
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('components[0].sha256');
    });

    it('rejects a payload encoding it cannot install', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        const component = m.components[0];
        if (component) component.encoding = PayloadEncoding.UNSPECIFIED;
      });
      const error = thrown(() =>
        verifyManifest(signManifest(body, world.releaseKeys), world.root, devicePolicy()),
      );
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('components[0].encoding');
    });
  });

  describe('health policy', () => {
    it.each([0, maxBootAttempts + 1])('rejects %i boot attempts', (bootAttempts) => {
      const world = createWorld();
      const error = thrown(() =>
        verifyManifest(signedManifest(world, { bootAttempts }), world.root, devicePolicy()),
      );
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('health.boot_attempts');
    });

    it.each([0, -1000, maxConfirmDeadlineMs + 1000])(
      'rejects a confirm deadline of %i ms',
      (confirmDeadlineMs) => {
        const world = createWorld();
        const error = thrown(() =>
          verifyManifest(signedManifest(world, { confirmDeadlineMs }), world.root, devicePolicy()),
        );
        expect(error.code).toBe('MALFORMED');
        expect(error.context.field).toBe('health.confirm_deadline');
      },
    );

    it('accepts the bounds themselves', () => {
      const world = createWorld();
      const signed = signedManifest(world, {
        bootAttempts: maxBootAttempts,
        confirmDeadlineMs: maxConfirmDeadlineMs,
      });
      const verified = verifyManifest(signed, world.root, devicePolicy());
      expect(verified.bootAttempts).toBe(maxBootAttempts);
      expect(verified.confirmDeadlineMs).toBe(maxConfirmDeadlineMs);
    });

    it('rejects a manifest without a health policy', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        m.health = undefined;
      });
      const error = thrown(() =>
        verifyManifest(signManifest(body, world.releaseKeys), world.root, devicePolicy()),
      );
      expect(error.code).toBe('MALFORMED');
      expect(error.context.field).toBe('health');
    });

    it('rejects a manifest without a confirm deadline', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        if (m.health) m.health.confirmDeadline = undefined;
      });
      const error = thrown(() =>
        verifyManifest(signManifest(body, world.releaseKeys), world.root, devicePolicy()),
      );
      expect(error.code).toBe('MALFORMED');
    });

    it('rejects a confirm deadline that overflows to infinity', () => {
      const world = createWorld();
      const body = manifestBody((m) => {
        if (m.health) m.health.confirmDeadline = durationFromMs(0);
        if (m.health?.confirmDeadline) m.health.confirmDeadline.seconds = 2n ** 62n;
      });
      const error = thrown(() =>
        verifyManifest(signManifest(body, world.releaseKeys), world.root, devicePolicy()),
      );
      expect(error.code).toBe('MALFORMED');
    });
  });
});

describe('extraneous dependencies / path traversal', () => {
  const world = createWorld();
  it.each([
    '../etc/shadow',
    '/dev/sda',
    'boot/../../etc',
    'a/b',
    '..',
    '.hidden',
    'rootfs\n',
    'x'.repeat(65),
  ])('rejects a component named %j', (name) => {
    const signed = signedManifest(world, {
      components: manifestSpec().components.map((component) => ({ ...component, name })),
    });
    const error = thrown(() => verifyManifest(signed, world.root, devicePolicy()));
    expect(error.code).toBe('MALFORMED');
    expect(error.context.field).toBe('components[0].name');
  });
});

describe('endless data', () => {
  const world = createWorld();

  it('rejects a 100 MB manifest before parsing or verifying it', () => {
    const body = new Uint8Array(100 * 1024 * 1024).fill(0x0b);
    const signed = createSigned(body, []);
    const error = thrown(() => verifyManifest(signed, world.root, devicePolicy()));
    expect(error.code).toBe('TOO_LARGE');
  });

  it('rejects a validly signed manifest of deeply nested groups, without crashing', () => {
    // 200 KiB of "start group 1": nesting as deep as the size cap allows.
    // protobuf-es skips it without recursing; what is left is no manifest.
    const body = new Uint8Array(200 * 1024).fill(0x0b);
    const signed = signManifest(body, world.releaseKeys);
    const error = thrown(() => verifyManifest(signed, world.root, devicePolicy()));
    expect(['MALFORMED', 'INCOMPATIBLE']).toContain(error.code);
  });
});
