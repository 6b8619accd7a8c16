// What a check-in offers a device: its open deployment, or a new one when a
// rollout that reaches it (selected, in an open phase) has something new for
// it, the newest such rollout winning. Active rollouts and trust roots are
// read through a short cache (cache_ttl): a check-in that offers nothing new
// costs one query, and a new deployment is only ever made from a fresh read.
import { randomUUID } from 'node:crypto';
import { create, fromBinary } from '@bufbuild/protobuf';
import { isPendulumError, PendulumError } from '../../errors.js';
import { type Offer, OfferSchema } from '../../gen/pendulum/v1/device_pb.js';
import { type Signed, SignedSchema } from '../../gen/pendulum/v1/manifest_pb.js';
import type { WindowSpec } from '../../schedule/window.js';
import { windowToWire } from '../../wire/window.js';
import { createReadCache } from '../cache/read-cache.js';
import type { ServerContext } from '../context.js';
import { positionOf, reaches } from '../rollouts/controller.js';
import { type ReleaseCandidate, selectRelease } from '../rollouts/select-release.js';
import type { ActiveRollout, StoredDevice, StoredTrustRoot } from '../store/index.js';

// Classes whose active rollouts are kept at once; releases and rollout
// windows (never changed once written) kept for offers.
const maxCachedClasses = 1024;
const maxCachedReleases = 256;

export type OfferMaker = ReturnType<typeof createOfferMaker>;

// What an offer carries of a release.
interface OfferedRelease {
  readonly manifest: Signed;
  readonly payloads: readonly { component: string; payloadId: string; size: bigint }[];
}

// createOfferMaker binds the offer decisions to a server's store and caches.
export function createOfferMaker(ctx: ServerContext) {
  const { store, config } = ctx;
  const rollouts = createReadCache<string, ActiveRollout[]>({
    ttlMs: config.cache_ttl,
    version: () => store.changes.rollouts,
    maxEntries: maxCachedClasses,
  });
  const roots = createReadCache<'all', StoredTrustRoot[]>({
    ttlMs: config.cache_ttl,
    version: () => store.changes.trustRoots,
    maxEntries: 1,
  });
  const activeFor = (classId: string) => () => store.rollouts.activeForClass(classId);
  // A release, its payloads and a rollout's plan are written once and never
  // changed, so what was read of them stays true on every replica.
  const releases = createReadCache<string, OfferedRelease>({
    ttlMs: Number.POSITIVE_INFINITY,
    version: () => 0,
    maxEntries: maxCachedReleases,
  });
  const windows = createReadCache<string, { window: WindowSpec | undefined }>({
    ttlMs: Number.POSITIVE_INFINITY,
    version: () => 0,
    maxEntries: maxCachedClasses,
  });
  const offeredRelease = (id: string) =>
    releases.get(id, async () => {
      const release = await store.releases.get(id);
      if (release === undefined) return undefined;
      const refs = await store.releases.payloadRefs(id);
      return {
        manifest: fromBinary(SignedSchema, release.signed),
        payloads: refs.map((ref) => ({
          component: ref.component,
          payloadId: ref.payloadId,
          size: BigInt(ref.size),
        })),
      };
    });
  const windowOf = async (rolloutId: string | null) => {
    if (rolloutId === null) return undefined;
    const found = await windows.get(rolloutId, async () => {
      const rollout = await store.rollouts.get(rolloutId);
      return rollout === undefined ? undefined : { window: rollout.plan.window };
    });
    return found?.window;
  };

  // choose picks the rollout whose release the device should get next, if any.
  const choose = async (
    active: readonly ActiveRollout[],
    device: StoredDevice,
    committedSequence: number,
  ): Promise<ReleaseCandidate | undefined> => {
    const candidates = active
      .filter((r) => r.sequence > committedSequence && reaches(positionOf(r), device))
      .map((r) => ({
        rolloutId: r.id,
        releaseId: r.releaseId,
        sequence: r.sequence,
        expiresAt: new Date(r.expiresAt),
        createdAt: new Date(r.createdAt),
      }));
    // Up to date with everything that reaches it: no need for its history.
    if (candidates.length === 0) return undefined;
    const history = (await store.deployments.listForDevices([device.id])).get(device.id) ?? [];
    return selectRelease(
      { committedSequence, attempted: new Set(history.map((d) => d.releaseId)) },
      candidates,
      ctx.now(),
    );
  };

  // newDeployment offers the chosen release; decided on a cached read, the
  // choice is made again on a fresh one, so a rollout paused, aborted or
  // outdone through another replica is never acted on.
  const newDeployment = async (device: StoredDevice, committedSequence: number) => {
    const cached = (await rollouts.get(device.classId, activeFor(device.classId))) ?? [];
    if ((await choose(cached, device, committedSequence)) === undefined) return undefined;
    const fresh = (await rollouts.fresh(device.classId, activeFor(device.classId))) ?? [];
    const choice = await choose(fresh, device, committedSequence);
    if (choice === undefined) return undefined;
    const release = await store.releases.get(choice.releaseId);
    if (release === undefined) return undefined;
    try {
      return await store.deployments.create({
        id: randomUUID(),
        deviceId: device.id,
        releaseId: choice.releaseId,
        rolloutId: choice.rolloutId,
        bytesTotal: release.size,
        now: ctx.now(),
      });
    } catch (error) {
      // A concurrent check-in of the same device created it first.
      if (!isPendulumError(error, 'ALREADY_EXISTS')) throw error;
      return store.deployments.find(device.id, choice.releaseId);
    }
  };

  return {
    // offerFor returns the deployment the device should work on, creating
    // one when a rollout that reaches it has something new for it.
    async offerFor(device: StoredDevice, committedSequence: number): Promise<Offer | undefined> {
      const deployment =
        (await store.deployments.openForDevice(device.id))[0] ??
        (await newDeployment(device, committedSequence));
      if (deployment === undefined) return undefined;
      const release = await offeredRelease(deployment.releaseId);
      if (release === undefined)
        throw new PendulumError(
          'INTERNAL',
          `release ${deployment.releaseId} of deployment ${deployment.id} is missing`,
        );
      const window = await windowOf(deployment.rolloutId);
      return create(OfferSchema, {
        activationWindow: window === undefined ? undefined : windowToWire(window),
        deploymentId: deployment.id,
        manifest: release.manifest,
        payloads: [...release.payloads],
      });
    },

    // trustRootsAfter lists the roots a device at `version` still has to walk.
    async trustRootsAfter(version: number): Promise<StoredTrustRoot[]> {
      const all = (await roots.get('all', () => store.trustRoots.after(0))) ?? [];
      return all.filter((root) => root.version > version);
    },
  };
}
