// Stalls of this process's event loop since the last read: when each began
// and how long it was, so a slow spell in the latency figure can be put down
// to the process that stalled (and, beside gc-meter's full collections, to
// the collection that stalled it).
import type { Pause } from './gc-meter.js';

// A timer due every tickMs that fires stallMs late or later is a stall.
const tickMs = 5;
export const stallMs = 20;

// stallMeter starts watching; read() returns and resets what it saw; stop() ends it.
export function stallMeter(): { read(): readonly Pause[]; stop(): void } {
  let stalls: Pause[] = [];
  let last = Date.now();
  const ticker = setInterval(() => {
    const now = Date.now();
    const late = now - last - tickMs;
    if (late >= stallMs) stalls.push({ atMs: now - late, ms: late });
    last = now;
  }, tickMs).unref();
  return {
    read() {
      const result = stalls;
      stalls = [];
      return result;
    },
    stop() {
      clearInterval(ticker);
    },
  };
}
