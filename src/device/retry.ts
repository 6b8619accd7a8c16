// When to try again, and how long to wait: jittered exponential backoff so
// server errors never turn into a tight loop, and a fleet never polls in step.
import { type ErrorCode, PendulumError } from '../errors.js';

// Errors that say "not now" rather than "never": the agent keeps its state
// and tries again later.
const transientCodes: ReadonlySet<ErrorCode> = new Set([
  'UNAVAILABLE',
  'RATE_LIMITED',
  'CANCELLED',
  'UNAUTHENTICATED',
  'INTERNAL',
  'PERMISSION_DENIED',
]);

// isTransient tells whether an error should be retried rather than failing the deployment.
export function isTransient(error: unknown): boolean {
  return transientCodes.has(PendulumError.from(error).code);
}

export interface BackoffPolicy {
  readonly minMs: number;
  readonly maxMs: number;
}

// backoffDelay is the wait after `failures` consecutive failures (1, 2, ...):
// min·2^(n-1), capped at max, with "full jitter" over the upper half.
export function backoffDelay(
  failures: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxMs,
    policy.minMs * 2 ** Math.min(Math.max(failures - 1, 0), 30),
  );
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

// jittered spreads a poll interval by ± `fraction`.
export function jittered(
  intervalMs: number,
  fraction: number,
  random: () => number = Math.random,
): number {
  return Math.max(0, Math.round(intervalMs * (1 + fraction * (2 * random() - 1))));
}

// sleep waits `ms`, or until the signal aborts.
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
