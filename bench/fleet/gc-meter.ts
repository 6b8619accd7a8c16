// Pauses in this process since the last read: garbage-collection pauses (how
// many, their total, the longest, and when each full one was) and stalls of
// the event loop (when, how long), so a slow spell in the latency figure can
// be put down to the process and the collection that caused it.
import {
  constants,
  type PerformanceEntry,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';

// A pause at a wall-clock time (ms since the epoch), `ms` long.
export interface Pause {
  readonly atMs: number;
  readonly ms: number;
}

export interface GcPauses {
  readonly count: number;
  readonly totalMs: number;
  readonly maxMs: number;
  // Of them, full (mark-compact) collections.
  readonly major: number;
  // When each full collection was, and its pause.
  readonly full: readonly Pause[];
  // Event-loop turns that came later than stallMs after they were due.
  readonly stalls: readonly Pause[];
  // The JavaScript heap in use when read, in MiB (what a full collection marks).
  readonly heapMiB: number;
}

// A timer due every tickMs that fires stallMs late or later is a stall.
const tickMs = 5;
const stallMs = 20;

// gcMeter starts observing; read() returns and resets what it saw; stop() ends it.
export function gcMeter(): { read(): GcPauses; stop(): void } {
  let count = 0;
  let totalMs = 0;
  let maxMs = 0;
  let major = 0;
  let full: Pause[] = [];
  let stalls: Pause[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      count++;
      totalMs += entry.duration;
      maxMs = Math.max(maxMs, entry.duration);
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        major++;
        full.push({ atMs: performance.timeOrigin + entry.startTime, ms: entry.duration });
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  let last = Date.now();
  const ticker = setInterval(() => {
    const now = Date.now();
    const late = now - last - tickMs;
    if (late >= stallMs) stalls.push({ atMs: now - late, ms: late });
    last = now;
  }, tickMs).unref();
  return {
    read() {
      const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
      const result = { count, totalMs, maxMs, major, full, stalls, heapMiB };
      count = 0;
      major = 0;
      totalMs = 0;
      maxMs = 0;
      full = [];
      stalls = [];
      return result;
    },
    stop() {
      observer.disconnect();
      clearInterval(ticker);
    },
  };
}
