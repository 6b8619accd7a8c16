// The agent's Watch stream, kept open in the background while the agent is
// idle: each check-in event wakes the loop, which then checks in as usual and
// verifies what it gets. A stream that fails, is refused, goes silent or ends
// early is opened again after exponential backoff with jitter, from
// `minIntervalMs` up to `maxIntervalMs`: never in a tight loop, whatever the
// server does. Nothing here throws into the agent's loop.
import type { Logger } from 'pino';
import { PendulumError } from '../errors.js';
import { backoffDelay, sleep as realSleep } from './retry.js';
import type { WatchEvent } from './source/source.js';

export interface WatchLoopOptions {
  // Opens one stream (UpdateSource.watch).
  readonly open: (signal: AbortSignal) => AsyncIterable<WatchEvent>;
  // Called for each check-in event.
  readonly onCheckIn: () => void;
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  // A stream that sends nothing this long after it opens is dropped.
  readonly firstEventTimeoutMs: number;
  readonly log: Logger;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly random?: () => number;
}

export interface WatchLoop {
  // setActive opens the stream (once any backoff still due has passed) or closes it.
  setActive(active: boolean): void;
  // Streams opened so far.
  readonly attempts: number;
  // stop closes the stream for good.
  stop(): Promise<void>;
}

// A stream that stayed open this long was healthy: the backoff starts over.
// One that ended sooner counts as a failure, so a server that accepts
// streams and ends them at once meets the same backoff as one that refuses.
export const healthyStreamMs = 60_000;
// A stream is dropped when it is silent for this many heartbeat intervals.
const missedHeartbeats = 3;

// startWatchLoop starts the loop, inactive.
export function startWatchLoop(options: WatchLoopOptions): WatchLoop {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const { log } = options;
  const policy = { minMs: options.minIntervalMs, maxMs: options.maxIntervalMs };
  let active = false;
  let stopped = false;
  let attempts = 0;
  let failures = 0;
  let nextAttemptAt = 0;
  // Resolves the wait for setActive(true).
  let activated: (() => void) | undefined;
  // Aborted by setActive(false) and stop(): ends the wait or the stream in progress.
  let cycle: AbortController | undefined;

  // stream reads one stream to its end; it returns why it ended.
  const stream = async (cycleSignal: AbortSignal): Promise<string> => {
    const silence = new AbortController();
    const forward = () => silence.abort();
    cycleSignal.addEventListener('abort', forward, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const expectWithin = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => silence.abort(), ms);
    };
    expectWithin(options.firstEventTimeoutMs);
    try {
      for await (const event of options.open(silence.signal)) {
        if (event.kind === 'check-in') {
          try {
            options.onCheckIn();
          } catch (error) {
            log.error({ err: error }, 'watch: waking the agent failed');
          }
        }
        const interval = event.kind === 'heartbeat' ? event.intervalMs : undefined;
        expectWithin(
          interval === undefined || interval <= 0
            ? options.firstEventTimeoutMs
            : missedHeartbeats * interval,
        );
      }
      return silence.signal.aborted ? 'silent' : 'ended by the server';
    } catch (error) {
      if (silence.signal.aborted && !cycleSignal.aborted) return 'silent';
      const failure = PendulumError.from(error, 'UNAVAILABLE');
      return `${failure.code}: ${failure.message}`;
    } finally {
      clearTimeout(timer);
      cycleSignal.removeEventListener('abort', forward);
    }
  };

  const run = async () => {
    while (!stopped) {
      if (!active) {
        await new Promise<void>((resolve) => {
          activated = resolve;
        });
        activated = undefined;
        continue;
      }
      const current = new AbortController();
      cycle = current;
      const due = nextAttemptAt - now();
      if (due > 0) {
        await sleep(due, current.signal);
        continue;
      }
      attempts++;
      const openedAt = now();
      const reason = await stream(current.signal);
      if (current.signal.aborted) {
        // Closed by the agent, not failed: still never reopened at once.
        nextAttemptAt = now() + options.minIntervalMs;
        continue;
      }
      if (now() - openedAt >= healthyStreamMs) failures = 0;
      failures++;
      // backoffDelay(n + 1) lies in [min·2^(n-1), min·2^n], capped at the maximum.
      const delay = Math.max(
        options.minIntervalMs,
        backoffDelay(failures + 1, policy, options.random),
      );
      nextAttemptAt = now() + delay;
      log.info({ failures, retryInMs: delay }, `watch: stream ${reason}; polling meanwhile`);
    }
  };
  const running = run().catch((error: unknown) =>
    log.error({ err: error }, 'watch: stopped by an unexpected error; polling only'),
  );

  return {
    setActive(next) {
      if (next === active) return;
      active = next;
      if (next) activated?.();
      else cycle?.abort();
    },
    get attempts() {
      return attempts;
    },
    async stop() {
      stopped = true;
      active = false;
      cycle?.abort();
      activated?.();
      await running;
    },
  };
}
