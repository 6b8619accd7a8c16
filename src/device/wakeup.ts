// How a Watch event reaches the agent's loop: wake() ends the idle wait in
// progress, or, when the loop is busy (checking in, say), the next one, so a
// hint that arrives mid-check-in is not lost.

export interface Wakeup {
  wake(): void;
  // idle waits `ms` with `sleep`, or until woken or `signal` aborts; it
  // resolves true when it was woken.
  idle(
    ms: number,
    signal: AbortSignal,
    sleep: (ms: number, signal: AbortSignal) => Promise<void>,
  ): Promise<boolean>;
}

// createWakeup makes a wakeup with nothing pending.
export function createWakeup(): Wakeup {
  let pending = false;
  let current: AbortController | undefined;
  return {
    wake() {
      if (current === undefined) pending = true;
      else current.abort();
    },
    async idle(ms, signal, sleep) {
      if (signal.aborted) return false;
      if (pending) {
        pending = false;
        return true;
      }
      const woken = new AbortController();
      const forward = () => woken.abort();
      signal.addEventListener('abort', forward, { once: true });
      current = woken;
      try {
        await sleep(ms, woken.signal);
      } finally {
        current = undefined;
        signal.removeEventListener('abort', forward);
      }
      return woken.signal.aborted && !signal.aborted;
    },
  };
}
