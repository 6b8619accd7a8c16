// The agent's loop: resume whatever the journal says is in progress, poll
// when idle (and check in early when the Watch stream says so), back off
// after errors, stop when told.
import { PendulumError } from '../errors.js';
import { activation, waitMs } from './activation.js';
import { isTrialPending, needsMarkGood } from './boot-state.js';
import { step } from './install.js';
import { deviceClock, poll } from './poll.js';
import { recordAgentStart, runPeriodicCheck } from './post-commit-health.js';
import { type BackoffPolicy, backoffDelay, jittered, sleep } from './retry.js';
import type { AgentRuntime } from './runtime.js';
import { createWakeup, type Wakeup } from './wakeup.js';
import { startWatchLoop, type WatchLoop } from './watch.js';

export interface LoopOptions {
  // Run until idle with nothing offered, or until a reboot was requested.
  readonly once: boolean;
  readonly pollIntervalMs: number;
  readonly jitter: number;
  readonly backoff: BackoffPolicy;
  // How long to wait for the system to go down after the reboot command.
  readonly rebootGraceMs: number;
  // Waits between polls and retries (a fake in tests).
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  // Keep a Watch stream open while idle (not with `once`, nor with a source
  // that has none); unset: poll only.
  readonly watch?: WatchSettings;
}

export interface WatchSettings {
  // The least wait before reopening a stream, and between a check-in and one
  // a Watch event asks for. Failed streams back off from it up to the poll interval.
  readonly minIntervalMs: number;
  // A stream that sends nothing this long after it opens is dropped.
  readonly firstEventTimeoutMs: number;
  // The watch loop's own waits (a fake in tests).
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

// 'waiting': installed, outside the rollout's maintenance window (`once` only).
export type LoopResult = 'idle' | 'reboot' | 'waiting' | 'stopped';

// runAgent runs the agent until `once` is satisfied or the signal aborts.
export async function runAgent(rt: AgentRuntime, options: LoopOptions): Promise<LoopResult> {
  await settleBoot(rt);
  // A crash-looping release shows as restarts; a --once run is not one.
  if (!options.once) await recordAgentStart(rt);
  const wakeup = createWakeup();
  const watch = startWatch(rt, options, wakeup);
  try {
    return await loop(rt, options, wakeup, watch);
  } finally {
    await watch?.stop();
  }
}

// loop steps, polls and waits until `once` is satisfied or the signal aborts.
async function loop(
  rt: AgentRuntime,
  options: LoopOptions,
  wakeup: Wakeup,
  watch: WatchLoop | undefined,
): Promise<LoopResult> {
  const wait = options.sleep ?? sleep;
  let interval = options.pollIntervalMs;
  let failures = 0;
  let polledAt = Number.NEGATIVE_INFINITY;
  while (!rt.signal.aborted) {
    // The stream is open only while idle: a deployment under way needs no hint.
    watch?.setActive(rt.state.machine.name === 'idle');
    try {
      const outcome = await step(rt);
      if (outcome === 'continue') continue;
      if (outcome === 'wait') {
        // Installed, outside the maintenance window: keep checking in (the
        // server would list a quiet device as silent), look again later.
        interval = (await poll(rt)) ?? interval;
        failures = 0;
        if (options.once) return 'waiting';
        const d = rt.state.machine.deployment;
        const clock = deviceClock(rt);
        const may = d === undefined ? { now: true as const } : activation(d, clock);
        await wait(may.now ? 0 : waitMs(may.opensAt, clock, interval), rt.signal);
        continue;
      }
      if (outcome === 'reboot') {
        if (options.once) return 'reboot';
        await wait(options.rebootGraceMs, rt.signal);
        if (!rt.signal.aborted)
          rt.log.error('still running after the reboot command; trying again');
        continue;
      }
      polledAt = rt.now();
      interval = (await poll(rt)) ?? interval;
      failures = 0;
      if (rt.state.machine.name !== 'idle') continue;
      await runPeriodicCheck(rt);
      if (options.once) return 'idle';
      const woken = await wakeup.idle(jittered(interval, options.jitter), rt.signal, wait);
      // However often a server sends events, check-ins stay this far apart.
      if (woken && options.watch !== undefined)
        await wait(Math.max(0, polledAt + options.watch.minIntervalMs - rt.now()), rt.signal);
    } catch (error) {
      if (rt.signal.aborted) break;
      if (options.once) throw error;
      failures++;
      const delay = backoffDelay(failures, options.backoff);
      const failure = PendulumError.from(error);
      rt.log.warn({ code: failure.code, failures, retryInMs: delay }, `agent: ${failure.message}`);
      await wait(delay, rt.signal);
    }
  }
  return 'stopped';
}

// startWatch starts the Watch loop when the options and the source allow one.
function startWatch(rt: AgentRuntime, options: LoopOptions, wakeup: Wakeup): WatchLoop | undefined {
  const { source } = rt;
  if (options.once || options.watch === undefined || source.watch === undefined) return undefined;
  return startWatchLoop({
    open: source.watch.bind(source),
    onCheckIn: () => wakeup.wake(),
    minIntervalMs: options.watch.minIntervalMs,
    maxIntervalMs: Math.max(options.watch.minIntervalMs, options.pollIntervalMs),
    firstEventTimeoutMs: options.watch.firstEventTimeoutMs,
    log: rt.log,
    ...(options.watch.sleep === undefined ? {} : { sleep: options.watch.sleep }),
  });
}

// settleBoot runs once per start: the running committed slot is confirmed to
// the bootloader (RAUC's mark-good on every good boot), so power cuts during a
// long download never use up its boot attempts. A pending trial is left alone.
async function settleBoot(rt: AgentRuntime): Promise<void> {
  const booted = await rt.bootloader.booted();
  const { machine, committed } = rt.state;
  if (machine.name === 'idle' && booted !== committed.slot) {
    // The bootloader gave up on the committed slot; what runs now is what we have.
    const version = rt.state.slots[booted].version || committed.version;
    rt.log.warn(
      { booted, committed: committed.slot },
      `running slot ${booted}, not the committed ${committed.slot}; adopting it`,
    );
    await rt.save({ ...rt.state, committed: { ...committed, slot: booted, version } });
  }
  if (booted !== rt.state.committed.slot) return;
  const state = await rt.bootloader.state();
  const target = machine.deployment?.targetSlot;
  if (machine.name === 'rebooting' && target !== undefined && isTrialPending(state, target)) return;
  if (needsMarkGood(state, booted)) {
    await rt.bootloader.markGood(booted);
    rt.log.info(
      { slot: booted, tries: state.slots[booted].tries },
      `agent: slot ${booted} is good; reset its boot count`,
    );
  }
}
