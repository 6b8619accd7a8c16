// Manifests: forged envelopes never verify, and a validly signed body of any
// shape is either refused or meets every policy rule.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import type { ErrorCode } from '../../src/errors.js';
import {
  ManifestSchema,
  type Signed,
  SignedSchema,
} from '../../src/gen/pendulum/v1/manifest_pb.js';
import { sha256, toHex } from '../../src/trust/digest.js';
import { decodeSigned } from '../../src/trust/envelope.js';
import {
  maxManifestBytes,
  type VerifiedManifest,
  verifyManifest,
} from '../../src/trust/manifest.js';
import { corpus, type World } from '../corpus.js';
import { applyEnvelopeMutation, envelopeMutation } from '../envelope-mutate.js';
import { defineFamily } from '../family.js';
import { signWith } from '../forger.js';
import { bytesLike } from '../mutate.js';
import { keyIdHex, validSigners } from '../oracle.js';
import {
  accepted,
  attempt,
  decodeRefusal,
  falseAcceptance,
  type Outcome,
  violation,
} from '../outcome.js';

const manifestCodes: ErrorCode[] = [
  'MALFORMED',
  'TOO_LARGE',
  'UNTRUSTED_KEY',
  'THRESHOLD_NOT_MET',
  'SIGNATURE_INVALID',
  'EXPIRED',
  'INCOMPATIBLE',
  'ROLLBACK_REJECTED',
];

// openEnvelope decodes envelope bytes as a file (decodeSigned, size-limited)
// or as a field of a request (plain protobuf decoding, as grpc-js does).
export function openEnvelope(
  bytes: Uint8Array,
  asFile: boolean,
  limit: number,
  then: (signed: Signed) => Outcome,
): Outcome {
  if (asFile)
    return attempt(() => decodeSigned(bytes, limit, 'envelope'), ['MALFORMED', 'TOO_LARGE'], then);
  let signed: Signed;
  try {
    signed = fromBinary(SignedSchema, bytes);
  } catch (error) {
    return decodeRefusal(error);
  }
  return then(signed);
}

// forgedManifestCheck verifies `signed` against a world's root; an acceptance
// must be backed by a threshold of valid signatures by its release keys.
export function manifestAcceptance(world: World, signed: Signed, manifest: VerifiedManifest) {
  const trusted = world.releaseKeys.map((k) => k.publicKey);
  const signers = validSigners('pendulum.v1.Manifest', signed.body, signed.signatures, trusted);
  if (signers.size < world.releaseThreshold)
    return falseAcceptance(`accepted with ${signers.size} valid release signatures`);
  const signerIds = new Set([...signers].map((hex) => keyIdHex(Buffer.from(hex, 'hex'))));
  if (!manifest.signers.every((id) => signerIds.has(id)))
    return falseAcceptance('named a signer whose signature does not verify');
  if (manifest.id !== toHex(sha256(signed.body)))
    return violation('release id is not the body hash');
  return accepted();
}

export const manifestForgery = defineFamily({
  name: 'manifest-forgery',
  defends:
    'verifyManifest accepts only a threshold of valid signatures by trusted release keys over the exact body',
  share: 40,
  testRuns: 250,
  arbitrary: () => {
    const { manifestSeeds, manifestBodies, rootBodies } = corpus();
    const donors = [...manifestBodies, ...rootBodies];
    return fc.record({
      bytes: envelopeMutation(manifestSeeds, donors).map((m) =>
        applyEnvelopeMutation(m, manifestSeeds, donors),
      ),
      world: fc.nat(corpus().worlds.length - 1),
      asFile: fc.boolean(),
    });
  },
  check: ({ bytes, world, asFile }) => {
    const { worlds, policy } = corpus();
    const w = worlds[world] as World;
    return openEnvelope(bytes, asFile, maxManifestBytes, (signed) =>
      attempt(
        () => verifyManifest(signed, w.root, policy),
        manifestCodes,
        (manifest) => manifestAcceptance(w, signed, manifest),
      ),
    );
  },
});

const bigint64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(0n, 1n, -1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)),
);
const uint64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.constantFrom(0n, 1n, 6n, 7n, 4096n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n),
);
const int32 = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, 1, -1, 999_999_999, 1_000_000_000, -999_999_999),
);
const smallText = (values: string[]) =>
  fc.oneof(fc.constantFrom(...values), fc.string({ maxLength: 8 }));

// Manifests built field by field around the valid one.
function manifestFields(now: Date) {
  const nowSeconds = BigInt(Math.floor(now.getTime() / 1000));
  const component = fc.record({
    name: smallText(['rootfs', '', '../etc/shadow', '/dev/sda', 'app.v2', '.x']),
    kind: fc.nat(4),
    size: uint64,
    sha256: fc
      .oneof(fc.constantFrom(32, 31, 33, 0), fc.nat(40))
      .map((n) => new Uint8Array(n).fill(9)),
    encoding: fc.nat(2),
  });
  return fc.record({
    formatVersion: fc.oneof(fc.constant(1), fc.nat(3)),
    vendorId: smallText(['acme', 'evil', '']),
    classId: smallText(['acme-gateway', 'other', '']),
    sequence: fc.oneof(fc.constantFrom(7n, 6n, 0n), uint64),
    version: smallText(['1.2.0', '']),
    expires: fc.option(
      fc.record({
        seconds: fc.oneof(fc.constant(nowSeconds + 86_400n), fc.constant(nowSeconds), bigint64),
        nanos: int32,
      }),
      { nil: undefined },
    ),
    components: fc.array(component, { maxLength: 3 }),
    health: fc.option(
      fc.record({
        bootAttempts: fc.oneof(
          fc.constant(3),
          fc.nat(20),
          fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        ),
        confirmDeadline: fc.option(fc.record({ seconds: bigint64, nanos: int32 }), {
          nil: undefined,
        }),
      }),
      { nil: undefined },
    ),
    flags: fc.array(fc.nat(3), { maxLength: 3 }),
    text: fc.string({ maxLength: 8 }),
    rollbackFloor: fc.oneof(fc.constantFrom(0n, 6n, 7n, 8n), uint64),
  });
}

export const manifestPolicy = defineFamily({
  name: 'manifest-policy',
  defends:
    'a validly signed manifest of any shape is refused, or meets format, vendor, class, sequence, anti-rollback floor, expiry, size and health rules',
  share: 60,
  testRuns: 1500,
  arbitrary: () => {
    const { manifestBodies, now } = corpus();
    return fc.oneof(
      bytesLike(manifestBodies, 300),
      manifestFields(now).map((fields) => toBinary(ManifestSchema, create(ManifestSchema, fields))),
    );
  },
  check: (body) => {
    const { worlds, policy } = corpus();
    const w = worlds[1] as World;
    const signed = signWith('pendulum.v1.Manifest', body, w.releaseKeys);
    // Signatures are valid here: a signature code would be a wrong refusal.
    return attempt(
      () => verifyManifest(signed, w.root, policy),
      ['MALFORMED', 'TOO_LARGE', 'EXPIRED', 'INCOMPATIBLE', 'ROLLBACK_REJECTED'],
      (manifest) => {
        const broken = policyBreaks(body, policy.now, policy.maxComponentBytes);
        if (broken.length > 0) return falseAcceptance(broken.join('; '));
        if (manifest.sequence < (policy.floor ?? 0))
          return falseAcceptance('sequence below the anti-rollback floor');
        return manifest.sequence > (policy.aboveSequence ?? 0)
          ? accepted()
          : falseAcceptance('sequence not above the committed one');
      },
    );
  },
});

// A component name is a label: 1-64 of [A-Za-z0-9._-], starting with a
// letter or digit, without "..".
const labelCharacters = new Set(
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-'.split(''),
);
function notALabel(name: string): boolean {
  const first = name.charAt(0);
  return (
    name.length === 0 ||
    name.length > 64 ||
    name.includes('..') ||
    first === '.' ||
    first === '_' ||
    first === '-' ||
    [...name].some((ch) => !labelCharacters.has(ch))
  );
}

// policyBreaks lists the rules a manifest body breaks, decoded independently.
function policyBreaks(body: Uint8Array, now: Date, maxComponentBytes: number): string[] {
  const m = fromBinary(ManifestSchema, body);
  const { vendorId, classId } = corpus();
  const ms = (t: { seconds: bigint; nanos: number } | undefined) =>
    t === undefined ? Number.NaN : Number(t.seconds) * 1000 + t.nanos / 1e6;
  const deadline = ms(m.health?.confirmDeadline);
  const names = m.components.map((c) => c.name);
  return [
    m.formatVersion !== 1 && 'format version',
    m.vendorId !== vendorId && 'vendor',
    m.classId !== classId && 'class',
    (m.sequence < 7n || m.sequence > 2n ** 53n) && 'sequence',
    m.rollbackFloor > m.sequence && 'rollback floor above the sequence',
    m.version === '' && 'empty version',
    !(ms(m.expires) > now.getTime() - 1) && 'expired or no expiry',
    m.components.length === 0 && 'no components',
    new Set(names).size !== names.length && 'repeated component names',
    m.components.some(
      (c) =>
        notALabel(c.name) ||
        c.kind === 0 ||
        c.encoding !== 1 ||
        c.sha256.length !== 32 ||
        c.size < 1n ||
        c.size > BigInt(maxComponentBytes),
    ) && 'a component breaks a rule',
    m.health === undefined && 'no health policy',
    m.health !== undefined &&
      (m.health.bootAttempts < 1 || m.health.bootAttempts > 16) &&
      'boot attempts',
    !(deadline > 0 && deadline <= 86_400_000) && 'confirm deadline',
  ].filter((problem): problem is string => problem !== false);
}
