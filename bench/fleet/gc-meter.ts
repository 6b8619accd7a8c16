// Garbage-collection pauses in this process since the last read: how many,
// their total and the longest (a stall that is GC says so).
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

export interface GcPauses {
  readonly count: number;
  readonly totalMs: number;
  readonly maxMs: number;
  // Of them, full (mark-compact) collections.
  readonly major: number;
}

// gcMeter starts observing; read() returns and resets what it saw.
export function gcMeter(): { read(): GcPauses } {
  let count = 0;
  let totalMs = 0;
  let maxMs = 0;
  let major = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      count++;
      totalMs += entry.duration;
      maxMs = Math.max(maxMs, entry.duration);
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
    }
  }).observe({ entryTypes: ['gc'] });
  return {
    read() {
      const result = { count, totalMs, maxMs, major };
      count = 0;
      major = 0;
      totalMs = 0;
      maxMs = 0;
      return result;
    },
  };
}
