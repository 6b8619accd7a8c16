// DeviceService: authenticate devices, hand them offers, stream payloads,
// record what they report, and keep their Watch streams.

import { fromBinary } from '@bufbuild/protobuf';
import { durationFromMs, timestampDate } from '@bufbuild/protobuf/wkt';
import { PendulumError } from '../../errors.js';
import type { DeviceService, PostCommitHealth } from '../../gen/pendulum/v1/device_pb.js';
import { SignedSchema } from '../../gen/pendulum/v1/manifest_pb.js';
import type { ServiceImpl } from '../../rpc/types.js';
import { keyIdOf, maxNonceBytes, minNonceBytes, verifyDeviceAuth } from '../../trust/index.js';
import { deploymentStateFromWire, isFinalDeploymentState, slotFromWire } from '../../wire/enums.js';
import { type DevicePrincipal, requireDevice } from '../auth.js';
import type { ServerContext } from '../context.js';
import { createDownloadBudget } from '../payloads/download-budget.js';
import { createRateLimiter, peerAddress } from '../rate-limit.js';
import { type DeviceHealth, noHealth, type StoredDevice } from '../store/devices.js';
import { createOfferMaker } from './offers.js';

type Impl = ServiceImpl<(typeof DeviceService)['method'], DevicePrincipal | undefined>;

// createDeviceService builds the DeviceService handlers.
export function createDeviceService(ctx: ServerContext): Impl {
  const { store, config } = ctx;
  const perPeer = createRateLimiter(config.auth_rate.per_peer);
  const perDevice = createRateLimiter(config.auth_rate.per_device);
  const offers = createOfferMaker(ctx);
  const downloads = createDownloadBudget(config.download_memory, config.download_chunk);
  return {
    async authenticate(request, call) {
      const now = ctx.now();
      // Limits first: nothing is verified or written for a caller over its budget.
      const peer = peerAddress(call.peer);
      perPeer.take(peer, peer, now.getTime());
      if (request.classId === '' || request.classId.length > 128) {
        throw new PendulumError('INVALID_ARGUMENT', 'class_id must be 1 to 128 characters', {
          context: { field: 'class_id' },
        });
      }
      const skewMs = Math.abs(Number(request.timestampMs) - now.getTime());
      if (skewMs > config.auth_clock_skew) {
        throw new PendulumError(
          'UNAUTHENTICATED',
          `device clock is ${Math.round(skewMs / 1000)} s off the server's; fix the device clock (NTP)`,
          {
            context: { field: 'timestamp_ms' },
          },
        );
      }
      if (request.enrolmentToken.length > 256) {
        throw new PendulumError('INVALID_ARGUMENT', 'enrolment_token is too long', {
          context: { field: 'enrolment_token' },
        });
      }
      if (request.publicKey.length !== 32) {
        throw new PendulumError('INVALID_ARGUMENT', 'public_key must be a 32-byte Ed25519 key', {
          context: { field: 'public_key' },
        });
      }
      const id = keyIdOf(request.publicKey);
      perDevice.take(id, `device ${id.slice(0, 16)}`, now.getTime());
      verifyDeviceAuth(request.publicKey, request.classId, request.timestampMs, request.signature);
      const result = await store.devices.recordAuthentication({
        id,
        publicKey: request.publicKey,
        classId: request.classId,
        admissionIfNew: config.admission === 'accept' ? 'accepted' : 'pending',
        timestampMs: Number(request.timestampMs),
        now,
      });
      if (result.replayed)
        throw new PendulumError(
          'UNAUTHENTICATED',
          'authentication request replayed (timestamp not above the last one)',
        );
      let device = result.device;
      if (device.classId !== request.classId) {
        throw new PendulumError(
          'PERMISSION_DENIED',
          `device ${id} is registered as class "${device.classId}", not "${request.classId}"`,
        );
      }
      if (device.admission === 'pending' && request.enrolmentToken !== '') {
        device = await enrol(ctx, device.id, device.classId, request.enrolmentToken);
      }
      if (device.admission === 'pending') {
        throw new PendulumError(
          'PERMISSION_DENIED',
          `device ${id} is pending admission; accept it with "pendulum devices accept ${id}"`,
          {
            context: { admission: 'pending' },
          },
        );
      }
      if (device.admission !== 'accepted')
        throw new PendulumError('PERMISSION_DENIED', `device ${id} was ${device.admission}`, {
          context: { admission: device.admission },
        });
      const token = await store.tokens.createDeviceToken({
        deviceId: id,
        ttlMs: config.device_token_ttl,
        now,
      });
      return {
        token: token.token,
        expiresIn: durationFromMs(config.device_token_ttl),
        deviceId: id,
      };
    },

    async checkIn(request, call) {
      const device = requireDevice(call.principal);
      // Checked before any work: the reply's freshness statement echoes it.
      if (request.nonce.length < minNonceBytes || request.nonce.length > maxNonceBytes) {
        throw new PendulumError(
          'INVALID_ARGUMENT',
          `nonce must be ${minNonceBytes} to ${maxNonceBytes} random bytes, not ${request.nonce.length}`,
          { context: { field: 'nonce' } },
        );
      }
      const status = request.status;
      const committedSequence = Number(status?.committedSequence ?? 0n);
      const stored = await store.devices.recordCheckIn(
        device.deviceId,
        {
          bootedSlot: slotFromWire(status?.bootedSlot ?? 0),
          installedVersion: status?.installedVersion ?? '',
          committedSequence,
          trustRootVersion: status?.trustRootVersion ?? 0,
          agentState: status?.agentState ?? '',
          inventory: { ...(status?.inventory ?? {}) },
          health: healthFromWire(status?.health),
        },
        ctx.now(),
      );
      const offer = await offers.offerFor(stored, committedSequence);
      const roots = await offers.trustRootsAfter(status?.trustRootVersion ?? 0);
      const now = ctx.now();
      return {
        offer,
        pollInterval: durationFromMs(config.poll_interval),
        trustRoots: roots.map((root) => fromBinary(SignedSchema, root.signed)),
        freshness: ctx.timestamp.sign({
          time: now,
          expiresAt: new Date(now.getTime() + config.freshness_ttl),
          deviceId: device.deviceId,
          nonce: request.nonce,
          offer,
        }),
      };
    },

    async *download(request, call) {
      const device = requireDevice(call.principal);
      const deployment = await ownDeployment(ctx, device, request.deploymentId);
      if (isFinalDeploymentState(deployment.state)) {
        throw new PendulumError(
          'FAILED_PRECONDITION',
          `deployment ${deployment.id} is ${deployment.state}`,
        );
      }
      const refs = await store.releases.payloadRefs(deployment.releaseId);
      const ref = refs.find((r) => r.payloadId === request.payloadId);
      if (ref === undefined)
        throw new PendulumError(
          'NOT_FOUND',
          `payload ${request.payloadId} is not part of deployment ${deployment.id}`,
        );
      let offset = Number(request.offset);
      if (!Number.isSafeInteger(offset) || offset > ref.size) {
        throw new PendulumError(
          'INVALID_ARGUMENT',
          `offset ${request.offset} is beyond the payload's ${ref.size} bytes`,
          { context: { field: 'offset' } },
        );
      }
      const close = downloads.open();
      try {
        for await (const data of ctx.payloads.read(
          ref.payloadId,
          offset,
          downloads.chunk,
          call.signal,
        )) {
          yield { offset: BigInt(offset), data };
          offset += data.length;
        }
      } finally {
        close();
      }
    },

    // watch holds the device's stream open; its events only ask the device
    // to check in.
    async *watch(_request, call) {
      yield* ctx.watch.open(requireDevice(call.principal), call.signal);
    },

    async report(request, call) {
      const device = requireDevice(call.principal);
      const deployment = await ownDeployment(ctx, device, request.deploymentId);
      const state = deploymentStateFromWire(request.state);
      if (state === undefined || state === 'offered') {
        throw new PendulumError('INVALID_ARGUMENT', 'state must be a reported deployment state', {
          context: { field: 'state' },
        });
      }
      const sequence = Number(request.sequence);
      if (!Number.isSafeInteger(sequence) || sequence < 1) {
        throw new PendulumError('INVALID_ARGUMENT', 'sequence must be at least 1', {
          context: { field: 'sequence' },
        });
      }
      // A replayed or retried report: acknowledged, so the device stops
      // sending it, and recorded once only.
      if (sequence <= deployment.reportSequence) return {};
      if (isFinalDeploymentState(deployment.state)) {
        // A retried final report is fine; anything else after the end is a bug on the device.
        if (deployment.state === state) return {};
        throw new PendulumError(
          'FAILED_PRECONDITION',
          `deployment ${deployment.id} is already ${deployment.state}`,
        );
      }
      const finished = isFinalDeploymentState(state);
      // The transition and its audit record commit together: a replica dying
      // in between would otherwise leave a recorded report whose retry, being
      // a replay, never gets audited.
      const recorded = await store.transaction(async (tx) => {
        const result = await tx.deployments.transition(
          deployment.id,
          {
            sequence,
            state,
            bytesDone: Number(request.bytesDone),
            bytesTotal: Number(request.bytesTotal),
            errorCode: request.errorCode.slice(0, 64),
            message: request.message.slice(0, 2048),
            logTail: request.logTail.slice(0, 16 * 1024),
            finished,
          },
          ctx.now(),
        );
        if (result.recorded && finished) {
          await tx.audit.append({
            actor: `device:${device.deviceId}`,
            action: `deployment.${state}`,
            subject: deployment.id,
            detail: {
              release: deployment.releaseId,
              errorCode: request.errorCode,
              message: request.message,
            },
            now: ctx.now(),
          });
        }
        return result.recorded;
      });
      if (recorded && finished) {
        ctx.log.info(
          {
            device: device.deviceId,
            deployment: deployment.id,
            state,
            errorCode: request.errorCode,
          },
          'deployment finished',
        );
      }
      return {};
    },
  };
}

// ownDeployment loads a deployment of this device; another device's is "not found".
async function ownDeployment(ctx: ServerContext, device: DevicePrincipal, id: string) {
  const deployment = id === '' ? undefined : await ctx.store.deployments.get(id);
  if (deployment === undefined || deployment.deviceId !== device.deviceId) {
    throw new PendulumError(
      'NOT_FOUND',
      `deployment ${id || '(empty)'} not found for this device`,
      { context: { field: 'deployment_id' } },
    );
  }
  return deployment;
}

// enrol admits a pending device that presents an enrolment token of its
// class, spending one of the token's uses; a token that is unknown, expired,
// used up or for another class is refused and the device stays pending.
async function enrol(
  ctx: ServerContext,
  deviceId: string,
  classId: string,
  token: string,
): Promise<StoredDevice> {
  // One use of the token, the admission and its record, or none of them.
  const device = await ctx.store.transaction(async (tx) => {
    const tokenId = await tx.tokens.useEnrolmentToken(token, classId, ctx.now());
    if (tokenId === undefined) {
      throw new PendulumError(
        'PERMISSION_DENIED',
        `device ${deviceId}: the enrolment token is unknown, expired, used up or not for class "${classId}"; the device stays pending`,
        { context: { admission: 'pending' } },
      );
    }
    const admitted = await tx.devices.setAdmission(deviceId, 'accepted', ctx.now());
    await tx.audit.append({
      actor: `device:${deviceId}`,
      action: 'device.enrolled',
      subject: deviceId,
      detail: { enrolmentToken: tokenId, classId },
      now: ctx.now(),
    });
    return admitted;
  });
  return device;
}

// healthFromWire reads what the device says about its committed release;
// nothing said is nothing wrong.
function healthFromWire(health: PostCommitHealth | undefined): DeviceHealth {
  if (health === undefined) return noHealth;
  let committedAt: string | null = null;
  if (health.committedAt !== undefined) {
    const date = timestampDate(health.committedAt);
    if (Number.isNaN(date.getTime()))
      throw new PendulumError('INVALID_ARGUMENT', 'status.health.committed_at is not a time', {
        context: { field: 'status.health.committed_at' },
      });
    committedAt = date.toISOString();
  }
  return {
    committedAt,
    restarts: health.agentRestarts,
    checksRun: health.checksRun,
    checksFailed: health.checksFailed,
    lastFailure: health.lastFailure.slice(0, 1024),
  };
}
