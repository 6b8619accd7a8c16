// The idle step: check in with the server and, when it offers a release,
// verify it completely before accepting it. A rejected offer changes nothing
// on the device but the report that says why.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { PendulumError } from '../errors.js';
import type { Offer } from '../gen/pendulum/v1/device_pb.js';
import { type Signed, SignedSchema } from '../gen/pendulum/v1/manifest_pb.js';
import { decodeTrustRoot, updateTrustRoot, type VerifiedTrustRoot } from '../trust/index.js';
import { flushOutbox, withReport } from './reporter.js';
import { isTransient } from './retry.js';
import type { AgentRuntime } from './runtime.js';
import { otherSlot } from './slots/slot.js';
import { transition } from './transition.js';
import { planInstall, verifyOfferRoot } from './verify-offer.js';

// poll checks in once; it returns the poll interval the server asked for.
export async function poll(rt: AgentRuntime): Promise<number | undefined> {
  await flushOutbox(rt);
  const booted = await rt.bootloader.booted();
  const root = trustedRoot(rt);
  const { offer, pollIntervalMs, trustRoots } = await rt.source.checkIn(
    {
      bootedSlot: booted,
      installedVersion: rt.state.committed.version,
      committedSequence: rt.state.committed.sequence,
      trustRootVersion: root.version,
      agentState: rt.state.machine.name,
      inventory: rt.settings.inventory,
    },
    rt.signal,
  );
  if (offer !== undefined) await accept(rt, offer, root, booted);
  else if (trustRoots.length > 0) await adoptRoots(rt, root, trustRoots);
  return pollIntervalMs;
}

// adoptRoots walks newer trust roots sent without an offer (TUF 5.3) and
// keeps the newest; a chain that does not verify changes nothing.
async function adoptRoots(
  rt: AgentRuntime,
  current: VerifiedTrustRoot,
  chain: readonly Signed[],
): Promise<void> {
  let root: VerifiedTrustRoot;
  try {
    root = updateTrustRoot(current, chain, new Date(rt.now()));
  } catch (error) {
    if (isTransient(error)) throw error;
    const rejected = PendulumError.from(error);
    rt.log.warn(
      { code: rejected.code, current: current.version },
      `trust root update rejected: ${rejected.message}`,
    );
    return;
  }
  if (root.version === current.version) return;
  await rt.save({
    ...rt.state,
    trustRoot: Buffer.from(toBinary(SignedSchema, root.signed)).toString('base64'),
  });
  rt.log.info({ from: current.version, to: root.version }, 'trust root updated');
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
  current: VerifiedTrustRoot,
  booted: 'A' | 'B',
): Promise<void> {
  const now = new Date(rt.now());
  try {
    // A missing or corrupt floor store refuses the offer: fail closed, never floor 0.
    const floor = await rt.rollbackFloor.read();
    const root = verifyOfferRoot(offer, current, now);
    if (root.version !== current.version) {
      await rt.save({
        ...rt.state,
        trustRoot: Buffer.from(toBinary(SignedSchema, root.signed)).toString('base64'),
      });
      rt.log.info({ from: current.version, to: root.version }, 'trust root updated');
    }
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
