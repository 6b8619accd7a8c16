// Garbage-collection pauses in this process since the last read: how many,
// their total and the longest, and when each full one was (a stall that is
// GC says so).
import {
  constants,
  type PerformanceEntry,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';

// A pause that began at a wall-clock time (ms since the epoch), `ms` long:
// the one clock two processes share.
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
  // The JavaScript heap in use when read, in MiB (what a full collection marks).
  readonly heapMiB: number;
}

// gcMeter starts observing; read() returns and resets what it saw; stop() ends it.
export function gcMeter(): { read(): GcPauses; stop(): void } {
  let count = 0;
  let totalMs = 0;
  let maxMs = 0;
  let major = 0;
  let full: Pause[] = [];
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
  return {
    read() {
      const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
      const result = { count, totalMs, maxMs, major, full, heapMiB };
      count = 0;
      major = 0;
      totalMs = 0;
      maxMs = 0;
      full = [];
      return result;
    },
    stop() {
      observer.disconnect();
    },
  };
}
