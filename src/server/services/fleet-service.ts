// FleetService: rollouts and devices.

import { randomUUID } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs, durationMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { PendulumError } from '../../errors.js';
import type {
  DeviceSchema,
  FleetService,
  RolloutSchema,
  StageCountsSchema,
} from '../../gen/pendulum/v1/fleet_pb.js';
import type { ServiceImpl } from '../../rpc/types.js';
import { keyIdOf } from '../../trust/index.js';
import {
  admissionToWire,
  deploymentStateToWire,
  rolloutStateToWire,
  slotToWire,
} from '../../wire/enums.js';
import { planFromWire, planToWire } from '../../wire/rollout-plan.js';
import type { ApiPrincipal } from '../auth.js';
import type { ServerContext } from '../context.js';
import { rolloutHealth } from '../rollouts/control-loop.js';
import { positionOf } from '../rollouts/controller.js';
import { rolloutProgress, type StageCounts } from '../rollouts/progress.js';
import type { RolloutState, RolloutSummary } from '../store/index.js';

type Impl = ServiceImpl<(typeof FleetService)['method'], ApiPrincipal>;

// createFleetService builds the FleetService handlers.
export function createFleetService(ctx: ServerContext): Impl {
  const { store } = ctx;
  // Devices last seen before this are silent.
  const silentBefore = () =>
    new Date(ctx.now().getTime() - ctx.config.silent_after_polls * ctx.config.poll_interval);

  // deviceView loads one device with its deployment history.
  const deviceView = async (id: string): Promise<MessageInitShape<typeof DeviceSchema>> => {
    const device = await store.devices.get(id);
    if (device === undefined)
      throw new PendulumError('NOT_FOUND', `device ${id} not found`, {
        context: { field: 'device_id' },
      });
    const deployments = (await store.deployments.listForDevices([id])).get(id) ?? [];
    return deviceToWire(device, deployments, silentBefore());
  };

  const setAdmission = async (
    id: string,
    admission: 'accepted' | 'rejected' | 'decommissioned',
    who: ApiPrincipal,
  ) => {
    const current = await deviceView(id);
    // A retired key stays retired: the device comes back with a new key.
    if (current.admission === admissionToWire('decommissioned')) {
      throw new PendulumError(
        'FAILED_PRECONDITION',
        `device ${id} is decommissioned; give the device a new key and admit that one`,
        { context: { deviceId: id, admission: 'decommissioned' } },
      );
    }
    await store.transaction(async (tx) => {
      await tx.devices.setAdmission(id, admission, ctx.now());
      if (admission !== 'accepted') await tx.tokens.deleteDeviceTokens(id);
      await tx.audit.append({
        actor: `token:${who.name}`,
        action: `device.${admission}`,
        subject: id,
        detail: {},
        now: ctx.now(),
      });
    });
    return { device: await deviceView(id) };
  };

  // changeRollout moves a rollout to `to` from one of `from`, with its audit
  // record in the same transaction. Asking again for the state it is in
  // changes nothing and succeeds; any other state is FAILED_PRECONDITION.
  const changeRollout = async (
    id: string,
    to: RolloutState,
    from: readonly RolloutState[],
    who: ApiPrincipal,
  ) => {
    const { rollout, change } = await store.transaction(async (tx) => {
      const result = await tx.rollouts.setState(id, to, from, ctx.now());
      // A resumed rollout offers again: its devices may check in now.
      const change =
        result.changed && to === 'active'
          ? await tx.fleetChanges.record({ classId: result.rollout.classId, now: ctx.now() })
          : undefined;
      if (result.changed) {
        await tx.audit.append({
          actor: `token:${who.name}`,
          action: `rollout.${verbs[to]}`,
          subject: id,
          detail: { from: result.before },
          now: ctx.now(),
        });
        if (to === 'aborted') {
          const cancelled = await tx.deployments.cancelUnstarted(
            id,
            {
              errorCode: 'ROLLOUT_ABORTED',
              message: `rollout ${id} was aborted before this device started it`,
            },
            ctx.now(),
          );
          if (cancelled > 0)
            await tx.audit.append({
              actor: `token:${who.name}`,
              action: 'rollout.cancel_unstarted',
              subject: id,
              detail: { deployments: cancelled },
              now: ctx.now(),
            });
        }
      }
      return { rollout: result.rollout, change };
    });
    if (change !== undefined) ctx.announce(change);
    if (rollout.state !== to) {
      throw new PendulumError(
        'FAILED_PRECONDITION',
        `rollout ${id} is ${rollout.state}; it can be ${verbs[to]}d only when ${from.join(' or ')}`,
        { context: { rolloutId: id, state: rollout.state } },
      );
    }
    return { rollout: rolloutToWire(rollout) };
  };

  return {
    async createRollout(request, call) {
      const release = await store.releases.get(request.releaseId);
      if (release === undefined) {
        throw new PendulumError(
          'NOT_FOUND',
          `release ${request.releaseId || '(empty)'} not found; list them with "pendulum release list"`,
          {
            context: { field: 'release_id' },
          },
        );
      }
      const classId = request.classId === '' ? release.classId : request.classId;
      if (classId !== release.classId) {
        throw new PendulumError(
          'INCOMPATIBLE',
          `release ${release.version} is for class "${release.classId}", not "${classId}"`,
          { context: { field: 'class_id' } },
        );
      }
      if (new Date(release.expiresAt).getTime() <= ctx.now().getTime()) {
        throw new PendulumError(
          'EXPIRED',
          `release ${release.version} expired at ${release.expiresAt}`,
        );
      }
      const plan = planFromWire(request);
      const { rollout, change } = await store.transaction(async (tx) => {
        const created = await tx.rollouts.create({
          id: randomUUID(),
          releaseId: release.id,
          classId,
          plan,
          now: ctx.now(),
        });
        await tx.audit.append({
          actor: `token:${call.principal.name}`,
          action: 'rollout.create',
          subject: created.id,
          detail: { release: release.id, version: release.version, classId, plan },
          now: ctx.now(),
        });
        return {
          rollout: created,
          change: await tx.fleetChanges.record({ classId, now: ctx.now() }),
        };
      });
      ctx.announce(change);
      return { rollout: rolloutToWire(rollout) };
    },

    async getRolloutStatus(request) {
      const rollout = await store.rollouts.get(request.rolloutId);
      if (rollout === undefined)
        throw new PendulumError(
          'NOT_FOUND',
          `rollout ${request.rolloutId || '(empty)'} not found`,
          {
            context: { field: 'rollout_id' },
          },
        );
      const progress = rolloutProgress(
        positionOf(rollout),
        await store.devices.selectable(rollout.classId),
        await store.deployments.ofRollout(rollout.id),
        await store.deployments.eventsOfRollout(rollout.id),
      );
      const health = await rolloutHealth(
        store,
        rollout,
        ctx.now(),
        ctx.config.silent_after_polls * ctx.config.poll_interval,
      );
      return {
        rollout: rolloutToWire(rollout),
        watched: health?.watched ?? 0,
        unhealthy: health?.unhealthy ?? 0,
        selected: progress.selected,
        phases: progress.phases.map((phase) => ({ ...phase, counts: countsToWire(phase.counts) })),
        total: countsToWire(progress.total),
        failureReasons: progress.failureReasons,
        stageTimes: progress.stageTimes.map((t) => ({
          stage: t.stage,
          samples: t.samples,
          p50: durationFromMs(t.p50Ms),
          p90: durationFromMs(t.p90Ms),
        })),
      };
    },

    async listAuditLog(request) {
      const limit = request.limit === 0 ? 100 : request.limit;
      if (limit > 1000)
        throw new PendulumError('INVALID_ARGUMENT', 'limit must be at most 1000', {
          context: { field: 'limit' },
        });
      const entries = await store.audit.list({
        limit,
        ...(request.subject === '' ? {} : { subject: request.subject }),
        ...(request.actor === '' ? {} : { actor: request.actor }),
        ...(request.actionPrefix === '' ? {} : { actionPrefix: request.actionPrefix }),
        ...(request.beforeId === 0n ? {} : { beforeId: Number(request.beforeId) }),
      });
      return {
        entries: entries.map((e) => ({
          id: BigInt(e.id),
          at: timestampFromDate(new Date(e.at)),
          actor: e.actor,
          action: e.action,
          subject: e.subject,
          detailJson: JSON.stringify(e.detail),
        })),
      };
    },

    async pauseRollout(request, call) {
      return changeRollout(request.rolloutId, 'paused', ['active'], call.principal);
    },

    async resumeRollout(request, call) {
      return changeRollout(request.rolloutId, 'active', ['paused'], call.principal);
    },

    async abortRollout(request, call) {
      return changeRollout(request.rolloutId, 'aborted', ['active', 'paused'], call.principal);
    },

    async setDeviceLabels(request, call) {
      await deviceView(request.deviceId);
      const change = await store.transaction(async (tx) => {
        const device = await tx.devices.setLabels(
          request.deviceId,
          { tags: request.tags, groups: request.groups },
          ctx.now(),
        );
        await tx.audit.append({
          actor: `token:${call.principal.name}`,
          action: 'device.labels',
          subject: request.deviceId,
          detail: { tags: device.tags, groups: device.groups },
          now: ctx.now(),
        });
        // New labels may put the device in a rollout's selection.
        return tx.fleetChanges.record({
          classId: device.classId,
          deviceId: device.id,
          now: ctx.now(),
        });
      });
      ctx.announce(change);
      return { device: await deviceView(request.deviceId) };
    },

    async listRollouts() {
      return { rollouts: (await store.rollouts.list()).map(rolloutToWire) };
    },

    async listDevices(request) {
      const devices = await store.devices.list(
        request.classId === '' ? {} : { classId: request.classId },
      );
      const history = await store.deployments.listForDevices(devices.map((d) => d.id));
      const before = silentBefore();
      const listed = devices.map((d) => deviceToWire(d, history.get(d.id) ?? [], before));
      return { devices: request.silentOnly ? listed.filter((d) => d.silent) : listed };
    },

    async acceptDevice(request, call) {
      return setAdmission(request.deviceId, 'accepted', call.principal);
    },

    async rejectDevice(request, call) {
      return setAdmission(request.deviceId, 'rejected', call.principal);
    },

    async decommissionDevice(request, call) {
      return setAdmission(request.deviceId, 'decommissioned', call.principal);
    },

    async preauthorizeDevice(request, call) {
      if (request.publicKey.length !== 32) {
        throw new PendulumError('INVALID_ARGUMENT', 'public_key must be a 32-byte Ed25519 key', {
          context: { field: 'public_key' },
        });
      }
      const classId = requireClassId(request.classId);
      const id = keyIdOf(request.publicKey);
      await store.transaction(async (tx) => {
        await tx.devices.preauthorize({
          id,
          publicKey: request.publicKey,
          classId,
          now: ctx.now(),
        });
        await tx.audit.append({
          actor: `token:${call.principal.name}`,
          action: 'device.preauthorized',
          subject: id,
          detail: { classId },
          now: ctx.now(),
        });
      });
      return { device: await deviceView(id) };
    },

    async createEnrolmentToken(request, call) {
      const classId = requireClassId(request.classId);
      const ttlMs =
        request.ttl === undefined ? ctx.config.enrolment_token_ttl : durationMs(request.ttl);
      if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000) {
        throw new PendulumError('INVALID_ARGUMENT', 'ttl must be at least one second', {
          context: { field: 'ttl' },
        });
      }
      const uses = request.uses === 0 ? 1 : request.uses;
      const created = await store.transaction(async (tx) => {
        const token = await tx.tokens.createEnrolmentToken({
          classId,
          uses,
          ttlMs,
          createdBy: `token:${call.principal.name}`,
          now: ctx.now(),
        });
        await tx.audit.append({
          actor: `token:${call.principal.name}`,
          action: 'enrolment_token.created',
          subject: token.id,
          detail: { classId, uses, expiresAt: token.expiresAt },
          now: ctx.now(),
        });
        return token;
      });
      return {
        token: created.token,
        id: created.id,
        expires: timestampFromDate(new Date(created.expiresAt)),
      };
    },
  };
}

// requireClassId checks a class id the way devices' are checked.
function requireClassId(classId: string): string {
  if (classId === '' || classId.length > 128) {
    throw new PendulumError('INVALID_ARGUMENT', 'class_id must be 1 to 128 characters', {
      context: { field: 'class_id' },
    });
  }
  return classId;
}

function countsToWire(counts: StageCounts): MessageInitShape<typeof StageCountsSchema> {
  const { pending, downloading, installed, committed, failed } = counts;
  return { pending, downloading, installed, committed, failed, rolledBack: counts.rolled_back };
}

// The verb of each target state, for audit actions and messages.
const verbs: Record<RolloutState, string> = { active: 'resume', paused: 'pause', aborted: 'abort' };

function rolloutToWire(rollout: RolloutSummary): MessageInitShape<typeof RolloutSchema> {
  return {
    id: rollout.id,
    releaseId: rollout.releaseId,
    classId: rollout.classId,
    state: rolloutStateToWire(rollout.state),
    created: timestampFromDate(new Date(rollout.createdAt)),
    version: rollout.version,
    sequence: BigInt(rollout.sequence),
    ...planToWire(rollout.plan),
    currentPhase: rollout.currentPhase,
    phaseStarted: timestampFromDate(new Date(rollout.phaseStartedAt)),
    pauseReason: rollout.pauseReason,
  };
}

type StoredDevice = {
  id: string;
  classId: string;
  admission: string;
  bootedSlot: string | null;
  installedVersion: string;
  committedSequence: number;
  agentState: string;
  inventory: Record<string, string>;
  lastSeenAt: string | null;
  createdAt: string;
  tags: readonly string[];
  groups: readonly string[];
};

type StoredDeployment = {
  id: string;
  releaseId: string;
  version: string;
  state: string;
  errorCode: string;
  message: string;
  bytesDone: number;
  bytesTotal: number;
  createdAt: string;
  updatedAt: string;
};

function deviceToWire(
  device: StoredDevice,
  deployments: readonly StoredDeployment[],
  silentBefore: Date,
): MessageInitShape<typeof DeviceSchema> {
  const silent =
    device.admission === 'accepted' &&
    device.lastSeenAt !== null &&
    new Date(device.lastSeenAt) < silentBefore;
  return {
    silent,
    id: device.id,
    classId: device.classId,
    admission: admissionToWire(device.admission),
    bootedSlot: slotToWire(device.bootedSlot),
    installedVersion: device.installedVersion,
    committedSequence: BigInt(device.committedSequence),
    agentState: device.agentState,
    lastSeen:
      device.lastSeenAt === null ? undefined : timestampFromDate(new Date(device.lastSeenAt)),
    created: timestampFromDate(new Date(device.createdAt)),
    inventory: device.inventory,
    tags: [...device.tags],
    groups: [...device.groups],
    deployments: deployments.map((d) => ({
      id: d.id,
      releaseId: d.releaseId,
      version: d.version,
      state: deploymentStateToWire(d.state),
      errorCode: d.errorCode,
      message: d.message,
      bytesDone: BigInt(d.bytesDone),
      bytesTotal: BigInt(d.bytesTotal),
      created: timestampFromDate(new Date(d.createdAt)),
      updated: timestampFromDate(new Date(d.updatedAt)),
    })),
  };
}
