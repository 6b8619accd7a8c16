// The install flow: one function per state of the machine, each performing
// that state's side effect and feeding the resulting event to `transition`.
import { invariant, PendulumError } from '../errors.js';
import { activation } from './activation.js';
import type { DeploymentRecord } from './agent-state.js';
import { isTrialPending } from './boot-state.js';
import { downloadIntoSlot } from './download.js';
import { checkpoint } from './failpoints.js';
import { deviceClock } from './poll.js';
import { freshHealth } from './post-commit-health.js';
import { flushOutbox, withReport } from './reporter.js';
import { isTransient } from './retry.js';
import type { AgentRuntime } from './runtime.js';
import { transition } from './transition.js';

// 'continue': run the next step now; 'reboot': the reboot command ran;
// 'idle': nothing in progress; 'wait': installed, waiting for the rollout's
// maintenance window to activate.
export type StepOutcome = 'continue' | 'reboot' | 'idle' | 'wait';

// step performs the side effect of the current state.
export async function step(rt: AgentRuntime): Promise<StepOutcome> {
  const { machine } = rt.state;
  if (machine.name === 'idle') return 'idle';
  const deployment = machine.deployment;
  invariant(deployment !== undefined, `state ${machine.name} has no deployment`);
  switch (machine.name) {
    case 'downloading':
      return download(rt, deployment);
    case 'installing':
      return verifySlot(rt, deployment);
    case 'arming':
      return arm(rt, deployment);
    case 'rebooting':
      return enterTrial(rt, deployment);
    case 'verifying':
      return checkTrial(rt, deployment);
    case 'committing':
      return commit(rt, deployment);
    case 'rolling_back':
      return rollBack(rt, deployment);
    case 'failing':
      return cleanUp(rt, deployment);
  }
}

async function download(rt: AgentRuntime, d: DeploymentRecord): Promise<StepOutcome> {
  if (rt.state.machine.offset === 0 && rt.state.slots[d.targetSlot].status !== 'invalid') {
    // From the first byte on, the target slot holds no usable system: say so
    // in the journal and in the bootloader before writing.
    await rt.save({
      ...rt.state,
      slots: { ...rt.state.slots, [d.targetSlot]: { status: 'invalid', version: '' } },
    });
    await rt.bootloader.markBad(d.targetSlot);
  }
  let lastProgress = rt.now();
  try {
    await downloadIntoSlot(rt, d, rt.state.machine.offset, {
      synced: async (offset) => {
        await rt.save({ ...rt.state, machine: { ...rt.state.machine, offset } });
        if (offset < d.size) checkpoint('download-progress');
      },
      progress: async (offset) => {
        if (rt.now() - lastProgress < rt.settings.progressEveryMs) return;
        // Behind a queued report it would be recorded first, and the queued
        // one then dropped as a replay (its sequence is lower).
        if (rt.state.outbox.length > 0) return;
        lastProgress = rt.now();
        // The sequence is persisted before the report leaves: one number is never used twice.
        const sequence = rt.state.reportSequence + 1;
        await rt.save({ ...rt.state, reportSequence: sequence });
        const report = {
          deploymentId: d.id,
          state: 'downloading' as const,
          bytesDone: offset,
          bytesTotal: d.size,
          errorCode: '',
          message: '',
          sequence,
        };
        // Progress is best effort: a lost one is replaced by the next.
        await rt.source
          .report(report, rt.signal)
          .catch((error: unknown) => rt.log.debug({ err: error }, 'progress report not delivered'));
      },
    });
  } catch (error) {
    return failUnlessTransient(rt, error);
  }
  await transition(rt, 'downloaded');
  return 'continue';
}

async function verifySlot(rt: AgentRuntime, d: DeploymentRecord): Promise<StepOutcome> {
  let digest: string;
  try {
    digest = await rt.slots[d.targetSlot].digest(d.size, rt.signal);
  } catch (error) {
    return failUnlessTransient(rt, error);
  }
  if (digest !== d.sha256) {
    return fail(
      rt,
      new PendulumError(
        'DIGEST_MISMATCH',
        `slot ${d.targetSlot} reads back with SHA-256 ${digest}, not the manifest's ${d.sha256}`,
      ),
    );
  }
  await transition(rt, 'slot_verified');
  checkpoint('installed');
  return 'continue';
}

async function arm(rt: AgentRuntime, d: DeploymentRecord): Promise<StepOutcome> {
  const clock = deviceClock(rt);
  const may = activation(d, clock);
  if (!may.now) {
    const opensAt = may.opensAt?.getTime() ?? 0;
    // Said once per opening, not at every look.
    if (rt.state.machine.windowOpensAt !== opensAt) {
      const when = may.opensAt === undefined ? 'never again' : `at ${may.opensAt.toISOString()}`;
      rt.log.info(
        { deployment: d.id, opensAt: may.opensAt?.toISOString() },
        `installed ${d.version}; waiting for the maintenance window, which opens ${when}`,
      );
      await rt.save({ ...rt.state, machine: { ...rt.state.machine, windowOpensAt: opensAt } });
      await reportNow(rt, d, 'installed', `waiting for the maintenance window; it opens ${when}`);
    }
    return 'wait';
  }
  try {
    await rt.bootloader.tryOnce(d.targetSlot, d.bootAttempts);
  } catch (error) {
    return failUnlessTransient(rt, error);
  }
  await transition(rt, 'armed');
  checkpoint('armed');
  return 'continue';
}

// enterTrial reboots into the armed slot, or sees that the trial already happened.
async function enterTrial(rt: AgentRuntime, d: DeploymentRecord): Promise<StepOutcome> {
  const booted = await rt.bootloader.booted();
  if (booted === d.targetSlot) {
    await transition(rt, 'booted_new', { machine: { verifyingSince: rt.now() } });
    return 'continue';
  }
  if (isTrialPending(await rt.bootloader.state(), d.targetSlot)) {
    await reportNow(rt, d, 'rebooting');
    await rt.reboot(rt.signal);
    return 'reboot';
  }
  await transition(rt, 'fell_back', {
    machine: {
      failure: {
        code: 'TRIAL_BOOT_FAILED',
        trial: true,
        message: `the bootloader fell back to slot ${booted} before ${d.version} in slot ${d.targetSlot} confirmed`,
      },
    },
  });
  return 'continue';
}

// checkTrial runs the health checks on the trial boot, within the manifest's confirm deadline.
async function checkTrial(rt: AgentRuntime, d: DeploymentRecord): Promise<StepOutcome> {
  const booted = await rt.bootloader.booted();
  if (booted !== d.targetSlot) {
    const message = `the system restarted during the trial and the bootloader fell back to slot ${booted}`;
    await transition(rt, 'fell_back', {
      machine: { failure: { code: 'TRIAL_BOOT_FAILED', message, trial: true } },
    });
    return 'continue';
  }
  checkpoint('verifying');
  const deadlineAt = (rt.state.machine.verifyingSince ?? rt.now()) + d.confirmDeadlineMs;
  const env = {
    PENDULUM_SLOT: d.targetSlot,
    PENDULUM_SLOT_DEVICE: rt.slots[d.targetSlot].location,
    PENDULUM_VERSION: d.version,
    PENDULUM_PREVIOUS_VERSION: d.fromVersion,
    PENDULUM_DEPLOYMENT: d.id,
  };
  try {
    await rt.checkHealth(env, deadlineAt, rt.signal);
  } catch (error) {
    if (rt.signal.aborted) throw error;
    const failure = PendulumError.from(error, 'HEALTH_CHECK_FAILED');
    const recorded = { code: failure.code, message: failure.message };
    await transition(rt, 'unhealthy', {
      machine: { failure: { ...recorded, trial: true } },
      report: { state: 'rolling_back', error: recorded },
    });
    return 'continue';
  }
  await transition(rt, 'healthy');
  return 'continue';
}

// commit makes the new slot the good one, raises the anti-rollback floor, and
// journals the commit. The floor moves after markGood and before the journal:
// a power cut between the two reboots into the new slot (already good) with
// the journal still committing, and this step runs again (markGood and raise
// are idempotent). Raised after the journal instead, such a cut would lose it.
async function commit(rt: AgentRuntime, d: DeploymentRecord): Promise<StepOutcome> {
  await rt.bootloader.markGood(d.targetSlot);
  // A release that raises nothing never needs the store; one that does waits
  // (retrying) until the store is readable rather than guess the floor.
  if (d.rollbackFloor > 0) await rt.rollbackFloor.raise(d.rollbackFloor);
  await transition(rt, 'committed', {
    state: {
      committed: { slot: d.targetSlot, version: d.version, sequence: d.sequence },
      slots: { ...rt.state.slots, [d.targetSlot]: { status: 'good', version: d.version } },
      postCommit: freshHealth(rt.now()),
    },
    report: { state: 'committed' },
  });
  return 'continue';
}

async function rollBack(rt: AgentRuntime, d: DeploymentRecord): Promise<StepOutcome> {
  const booted = await rt.bootloader.booted();
  if (booted === d.targetSlot) {
    await rt.bootloader.markBad(d.targetSlot);
    await rt.reboot(rt.signal);
    return 'reboot';
  }
  await transition(rt, 'booted_old');
  return 'continue';
}

// cleanUp leaves the target slot unbootable and marked invalid, and reports why.
async function cleanUp(rt: AgentRuntime, d: DeploymentRecord): Promise<StepOutcome> {
  const booted = await rt.bootloader.booted();
  const boot = await rt.bootloader.state();
  if (booted !== d.targetSlot && boot.slots[d.targetSlot].ok)
    await rt.bootloader.markBad(d.targetSlot);
  const failure = rt.state.machine.failure ?? {
    code: 'INTERNAL' as const,
    message: 'failed for an unrecorded reason',
  };
  await transition(rt, 'cleaned_up', {
    state: { slots: { ...rt.state.slots, [d.targetSlot]: { status: 'invalid', version: '' } } },
    report: {
      state: failure.trial === true ? 'rolled_back' : 'failed',
      error: { code: failure.code, message: failure.message },
    },
  });
  rt.log.warn(
    { deployment: d.id, version: d.version, code: failure.code },
    `update to ${d.version} ${failure.trial === true ? 'rolled back' : 'failed'}: ${failure.message}`,
  );
  return 'continue';
}

// failUnlessTransient retries "not now" errors later and fails the deployment on the rest.
async function failUnlessTransient(rt: AgentRuntime, error: unknown): Promise<StepOutcome> {
  if (rt.signal.aborted || isTransient(error)) throw error;
  return fail(rt, PendulumError.from(error));
}

async function fail(rt: AgentRuntime, error: PendulumError): Promise<StepOutcome> {
  await transition(rt, 'failed', {
    machine: { failure: { code: error.code, message: error.message } },
  });
  return 'continue';
}

// reportNow queues and sends a report that is not a state change.
async function reportNow(
  rt: AgentRuntime,
  d: DeploymentRecord,
  state: 'rebooting' | 'installed',
  message = '',
): Promise<void> {
  await rt.save(
    withReport(rt.state, {
      deploymentId: d.id,
      state,
      bytesDone: d.size,
      bytesTotal: d.size,
      errorCode: '',
      message,
    }),
  );
  await flushOutbox(rt).catch(() => undefined);
}
