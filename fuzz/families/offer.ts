// The device's side of a compromised server: whatever CheckInResponse it is
// sent, the agent plans an install only of a manifest that a threshold of
// release keys signed, under a root chain its pinned root vouches for.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { type InstallContext, planInstall } from '../../src/device/verify-offer.js';
import type { ErrorCode } from '../../src/errors.js';
import {
  type CheckInResponse,
  CheckInResponseSchema,
  type Offer,
} from '../../src/gen/pendulum/v1/device_pb.js';
import {
  ManifestSchema,
  type Signed,
  SignedSchema,
  TrustRootSchema,
} from '../../src/gen/pendulum/v1/manifest_pb.js';
import { sha256, toHex } from '../../src/trust/digest.js';
import { updateTrustRoot } from '../../src/trust/trust-root.js';
import { corpus, type World } from '../corpus.js';
import { applyEnvelopeMutation, envelopeMutation } from '../envelope-mutate.js';
import { defineFamily } from '../family.js';
import { applyByteOps, type ByteOp, byteOps } from '../mutate.js';
import { meetsThreshold } from '../oracle.js';
import { accepted, attempt, decodeRefusal, falseAcceptance, type Outcome } from '../outcome.js';

const codes: ErrorCode[] = [
  'MALFORMED',
  'TOO_LARGE',
  'UNTRUSTED_KEY',
  'THRESHOLD_NOT_MET',
  'SIGNATURE_INVALID',
  'EXPIRED',
  'INCOMPATIBLE',
  'ROLLBACK_REJECTED',
];

interface OfferParts {
  readonly manifest: Uint8Array | undefined;
  readonly roots: readonly Uint8Array[];
  readonly payloadId: string;
  readonly size: bigint;
  readonly wire: readonly ByteOp[];
}

function offerParts(): fc.Arbitrary<OfferParts> {
  const { manifestSeeds, rootSeeds, manifestBodies, rootBodies, nextRoots, payload } = corpus();
  const donors = [...manifestBodies, ...rootBodies];
  const manifest = envelopeMutation(manifestSeeds, donors).map((m) =>
    applyEnvelopeMutation(m, manifestSeeds, donors),
  );
  const root = envelopeMutation(rootSeeds, donors).map((m) =>
    applyEnvelopeMutation(m, rootSeeds, donors),
  );
  const validRoots = nextRoots.map((s) => toBinary(SignedSchema, s));
  const payloadId = toHex(sha256(payload));
  return fc.record({
    manifest: fc.option(
      fc.oneof(
        manifest,
        fc.constantFrom(...manifestSeeds.map((s) => toBinary(SignedSchema, s.signed))),
      ),
      { nil: undefined, freq: 10 },
    ),
    roots: fc.array(fc.oneof(root, fc.constantFrom(...validRoots)), { maxLength: 2 }),
    payloadId: fc.oneof(
      fc.constant(payloadId),
      fc.constant(payloadId.toUpperCase()),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 64 }),
    ),
    size: fc.oneof(
      fc.constant(BigInt(payload.length)),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    ),
    wire: fc.oneof(
      { weight: 5, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: byteOps(0, 3) },
    ),
  });
}

// The device: running release sequence 6 from slot A (its floor), room for 64 MiB.
function installContext(): InstallContext {
  const { classId, now } = corpus();
  return {
    classId,
    committed: { slot: 'A', version: '1.0.0', sequence: 6 },
    booted: 'A',
    floor: 6,
    targetCapacity: 64 * 1024 * 1024,
    now,
  };
}

export const offerForgery = defineFamily({
  name: 'offer-forgery',
  defends:
    'a device plans an install only of a manifest signed by a threshold of release keys under a root chain from its pinned root',
  share: 25,
  testRuns: 200,
  arbitrary: offerParts,
  check: (parts) => {
    const decodeOrUndefined = (bytes: Uint8Array): Signed | undefined => {
      try {
        return fromBinary(SignedSchema, bytes);
      } catch {
        return undefined;
      }
    };
    const response = create(CheckInResponseSchema, {
      offer: {
        deploymentId: 'deployment-1',
        manifest: parts.manifest === undefined ? undefined : decodeOrUndefined(parts.manifest),
        payloads: [{ component: 'rootfs', payloadId: parts.payloadId, size: parts.size }],
      },
      trustRoots: parts.roots.map(decodeOrUndefined).filter((s): s is Signed => s !== undefined),
      pollInterval: { seconds: 60n },
    });
    let decoded: CheckInResponse;
    try {
      decoded = fromBinary(
        CheckInResponseSchema,
        applyByteOps(toBinary(CheckInResponseSchema, response), parts.wire),
      );
    } catch (error) {
      return decodeRefusal(error);
    }
    const checked = decoded.offer;
    if (checked === undefined) return { verdict: 'refused', detail: 'no offer' };
    const roots = decoded.trustRoots;
    const pinned = (corpus().worlds[0] as World).root;
    return attempt(
      () => planInstall(checked, updateTrustRoot(pinned, roots, corpus().now), installContext()),
      codes,
      (plan) => planAcceptance(checked, roots, plan.deployment.payloadId),
    );
  },
});

// planAcceptance re-checks an accepted offer: the chain from the pinned root,
// then the manifest's release signatures under the chain's last root.
function planAcceptance(offer: Offer, roots: readonly Signed[], payloadId: string): Outcome {
  const first = corpus().worlds[0] as World;
  const type = 'pendulum.v1.TrustRoot';
  let keys = first.rootKeys.map((k) => k.publicKey);
  let threshold = first.rootThreshold;
  let releaseKeys = first.releaseKeys.map((k) => k.publicKey);
  let releaseThreshold = first.releaseThreshold;
  for (const signed of roots) {
    const next = fromBinary(TrustRootSchema, signed.body);
    const own = next.rootKeys.filter((k) => k.publicKey.length === 32).map((k) => k.publicKey);
    if (
      !meetsThreshold(type, signed.body, signed.signatures, keys, threshold) ||
      !meetsThreshold(type, signed.body, signed.signatures, own, next.rootThreshold)
    )
      return falseAcceptance('followed a root not signed by the old and its own threshold');
    keys = own;
    threshold = next.rootThreshold;
    releaseKeys = next.releaseKeys.filter((k) => k.publicKey.length === 32).map((k) => k.publicKey);
    releaseThreshold = next.releaseThreshold;
  }
  const manifest = offer.manifest;
  if (
    manifest === undefined ||
    !meetsThreshold(
      'pendulum.v1.Manifest',
      manifest.body,
      manifest.signatures,
      releaseKeys,
      releaseThreshold,
    )
  )
    return falseAcceptance('planned a manifest not signed by a threshold of release keys');
  const component = fromBinary(ManifestSchema, manifest.body).components[0];
  if (component === undefined || toHex(component.sha256) !== payloadId)
    return falseAcceptance('planned a payload the manifest does not name');
  return accepted();
}
