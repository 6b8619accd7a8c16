// The idle step: check in with the server and, when it offers a release,
// verify it completely before accepting it. A rejected offer changes nothing
// on the device but the report that says why.
import { randomBytes } from 'node:crypto';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { PendulumError } from '../errors.js';
import type { Offer } from '../gen/pendulum/v1/device_pb.js';
import { SignedSchema } from '../gen/pendulum/v1/manifest_pb.js';
import {
  checkUnexpired,
  decodeTrustRoot,
  type VerifiedTrustRoot,
  verifyFreshness,
  walkTrustRoots,
} from '../trust/index.js';
import { flushOutbox, withReport } from './reporter.js';
import { isTransient } from './retry.js';
import type { AgentRuntime } from './runtime.js';
import { otherSlot } from './slots/slot.js';
import type { CheckInResult } from './source/source.js';
import { transition } from './transition.js';
import { planInstall } from './verify-offer.js';

// A clock floor is persisted when it has moved this far, not at every poll:
// the journal lives on flash.
const clockFloorPersistStepMs = 10 * 60 * 1000;

// poll checks in once; it returns the poll interval the server asked for.
export async function poll(rt: AgentRuntime): Promise<number | undefined> {
  await flushOutbox(rt);
  const booted = await rt.bootloader.booted();
  const current = trustedRoot(rt);
  const nonce = new Uint8Array(randomBytes(32));
  const reply = await rt.source.checkIn(
    {
      bootedSlot: booted,
      installedVersion: rt.state.committed.version,
      committedSequence: rt.state.committed.sequence,
      trustRootVersion: current.version,
      agentState: rt.state.machine.name,
      inventory: rt.settings.inventory,
      health: rt.state.postCommit,
      nonce,
    },
    rt.signal,
  );
  const checked = await checkReply(rt, current, reply, nonce);
  // Only an idle agent takes an offer; one mid-deployment checks in to stay
  // known and to pick up trust roots and server time.
  if (checked !== undefined && reply.offer !== undefined && rt.state.machine.name === 'idle') {
    await accept(rt, reply.offer, checked.root, checked.now, booted);
  }
  return reply.pollIntervalMs;
}

// deviceClock is the time the agent trusts: its own clock, or the latest
// server time a verified freshness statement vouched for, whichever is later.
export function deviceClock(rt: AgentRuntime): Date {
  return new Date(Math.max(rt.now(), rt.state.clockFloor));
}

// checkReply checks a reply's trust roots and freshness statement together:
// the chain walked from the device's root (TUF 5.3), the statement verified
// against the newest root's timestamp keys, this device, this request's nonce
// and the offer beside it; then the clock floor raised to the statement's
// time, and only on that clock the newest root's expiry checked. A reply that
// fails any of it changes nothing on the device and is not acted on.
async function checkReply(
  rt: AgentRuntime,
  current: VerifiedTrustRoot,
  reply: CheckInResult,
  nonce: Uint8Array,
): Promise<{ root: VerifiedTrustRoot; now: Date } | undefined> {
  let root: VerifiedTrustRoot;
  let now: Date;
  try {
    root = walkTrustRoots(current, reply.trustRoots);
    const clock = deviceClock(rt);
    const { time } = verifyFreshness(reply.freshness, root, {
      deviceId: rt.settings.deviceId,
      nonce,
      offer: reply.offer,
      now: clock,
    });
    now = new Date(Math.max(clock.getTime(), time.getTime()));
    checkUnexpired(root, now);
  } catch (error) {
    if (isTransient(error)) throw error;
    const rejected = PendulumError.from(error);
    rt.log.warn(
      { code: rejected.code, trustRoot: current.version, offer: reply.offer?.deploymentId },
      `check-in reply refused: ${rejected.message}`,
    );
    return undefined;
  }
  const floorMoved = now.getTime() - rt.state.clockFloor >= clockFloorPersistStepMs;
  if (root.version !== current.version || floorMoved) {
    await rt.save({
      ...rt.state,
      trustRoot: Buffer.from(toBinary(SignedSchema, root.signed)).toString('base64'),
      clockFloor: Math.max(rt.state.clockFloor, now.getTime()),
    });
  }
  if (root.version !== current.version) {
    rt.log.info({ from: current.version, to: root.version }, 'trust root updated');
  }
  return { root, now };
}

// trustedRoot is the newest trust root the agent has verified.
function trustedRoot(rt: AgentRuntime): VerifiedTrustRoot {
  return decodeTrustRoot(
    fromBinary(SignedSchema, Buffer.from(rt.state.trustRoot, 'base64')),
    'journal trust root',
  );
}

async function accept(
  rt: AgentRuntime,
  offer: Offer,
  root: VerifiedTrustRoot,
  now: Date,
  booted: 'A' | 'B',
): Promise<void> {
  try {
    // A missing or corrupt floor store refuses the offer: fail closed, never floor 0.
    const floor = await rt.rollbackFloor.read();
    const { deployment } = planInstall(offer, root, {
      classId: rt.settings.classId,
      committed: rt.state.committed,
      booted,
      floor,
      targetCapacity: await rt.slots[otherSlot(booted)].capacity(),
      now,
    });
    await transition(rt, 'offer_verified', { machine: { deployment, offset: 0 } });
  } catch (error) {
    if (isTransient(error)) throw error;
    const rejected = PendulumError.from(error);
    rt.log.warn(
      { code: rejected.code, deployment: offer.deploymentId },
      `offer rejected: ${rejected.message}`,
    );
    if (offer.deploymentId === '') return;
    const report = {
      deploymentId: offer.deploymentId,
      state: 'failed' as const,
      bytesDone: 0,
      bytesTotal: 0,
      errorCode: rejected.code,
      message: rejected.message,
    };
    await rt.save(withReport(rt.state, report));
    await flushOutbox(rt).catch(() => undefined);
  }
}
