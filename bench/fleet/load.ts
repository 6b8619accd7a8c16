// Load shapes: closed-loop (a fixed number of calls in flight, as fast as the
// server answers) for capacity, and open-loop (calls started on a fixed
// schedule whatever the answers) for latency at a given rate.
import { setTimeout as sleep } from 'node:timers/promises';

export interface LoadResult {
  readonly calls: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
  // Milliseconds per call; open loop: from when the call was due.
  readonly latenciesMs: readonly number[];
  // The first error, to say what failed.
  readonly firstError?: unknown;
  // Open loop: when each call slower than slowMs was due (ms after the start).
  readonly slowDueMs?: readonly number[];
  // Open loop: the wall-clock time it started (ms since the epoch).
  readonly startedAtMs?: number;
}

// What the open loop counts as a slow call, to say when they happened.
export const slowMs = 50;

// closedLoop keeps `inFlight` calls going for `seconds` (after `warmupSeconds`
// not counted); worker w makes its calls one after another.
export async function closedLoop(
  inFlight: number,
  seconds: number,
  warmupSeconds: number,
  call: (worker: number) => Promise<void>,
  onMeasureStart: () => void = () => undefined,
): Promise<LoadResult> {
  const warmEnd = performance.now() + warmupSeconds * 1000;
  let start = Number.NaN;
  let end = Number.NaN;
  let calls = 0;
  let errors = 0;
  let firstError: unknown;
  const latenciesMs: number[] = [];
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      for (;;) {
        const now = performance.now();
        if (Number.isNaN(start) && now >= warmEnd) {
          start = now;
          end = start + seconds * 1000;
          onMeasureStart();
        }
        if (!Number.isNaN(end) && now >= end) return;
        const counted = !Number.isNaN(start);
        try {
          await call(worker);
          if (counted) {
            calls++;
            latenciesMs.push(performance.now() - now);
          }
        } catch (error) {
          if (counted) errors++;
          firstError ??= error;
          if (!counted) throw error;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return { calls, errors, seconds: elapsed, perSecond: calls / elapsed, latenciesMs, firstError };
}

// openLoop starts call i at start + i / perSecond for `seconds`, never
// waiting for earlier calls: a slow server builds a queue, as a fleet's
// polls would, and each latency counts from when its call was due.
export async function openLoop(
  perSecond: number,
  seconds: number,
  call: (i: number) => Promise<void>,
): Promise<LoadResult> {
  const total = Math.round(perSecond * seconds);
  const start = performance.now();
  const startedAtMs = Date.now();
  const latenciesMs: number[] = [];
  const slowDueMs: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const running: Promise<void>[] = [];
  const dueAt = (i: number) => start + (i * 1000) / perSecond;
  for (let i = 0; i < total; ) {
    // Start every call that is due, then yield until the next one is.
    for (const now = performance.now(); i < total && dueAt(i) <= now; i++) {
      const due = dueAt(i);
      running.push(
        call(i).then(
          () => {
            const latency = performance.now() - due;
            latenciesMs.push(latency);
            if (latency > slowMs) slowDueMs.push(due - start);
          },
          (error: unknown) => {
            errors++;
            firstError ??= error;
          },
        ),
      );
    }
    if (i < total) await sleep(Math.max(0, dueAt(i) - performance.now()));
  }
  await Promise.all(running);
  const elapsed = (performance.now() - start) / 1000;
  return {
    calls: latenciesMs.length,
    errors,
    seconds: elapsed,
    perSecond: latenciesMs.length / elapsed,
    latenciesMs,
    firstError,
    slowDueMs,
    startedAtMs,
  };
}

// slowSpells groups the due times of slow calls into spells (calls due within
// 200 ms of each other): "at 1.2 s: 40 calls" says a stall, not a spread.
export function slowSpells(dueMs: readonly number[]): string {
  const sorted = [...dueMs].sort((a, b) => a - b);
  const spells: { at: number; calls: number; last: number }[] = [];
  for (const due of sorted) {
    const spell = spells[spells.length - 1];
    if (spell !== undefined && due - spell.last <= 200) {
      spell.calls++;
      spell.last = due;
    } else spells.push({ at: due, calls: 1, last: due });
  }
  if (spells.length === 0) return 'none';
  return spells.map((s) => `${(s.at / 1000).toFixed(1)} s: ${s.calls}`).join(', ');
}

// percentile of the values (p in 0..100), nearest rank.
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}
