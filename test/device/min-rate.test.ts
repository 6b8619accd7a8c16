// Slow retrieval (src/device/min-rate.ts): a stream below the minimum rate
// over a full window, or past its deadline, is cancelled and fails TOO_SLOW;
// a stream at the rate passes untouched. Fake timers: minutes in microseconds.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withMinRate } from '../../src/device/min-rate.js';
import { isPendulumError } from '../../src/errors.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

// trickle yields `chunks` buffers of `size` bytes, one every `everyMs`,
// until `signal` aborts (which also clears its pending timer).
async function* trickle(
  size: number,
  everyMs: number,
  chunks: number,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < chunks; i++) {
    await new Promise<void>((resolve, reject) => {
      const cancel = () => {
        clearTimeout(timer);
        reject(new Error('cancelled'));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', cancel);
        resolve();
      }, everyMs);
      signal.addEventListener('abort', cancel, { once: true });
    });
    yield new Uint8Array(size);
  }
}

// consume runs the wrapped stream to its end and says how it ended.
function consume(
  size: number,
  everyMs: number,
  chunks: number,
  limits: { minBytesPerSec: number; windowMs: number; deadlineMs: number },
) {
  const call = new AbortController();
  let slowCalls = 0;
  let received = 0;
  const done = (async () => {
    for await (const chunk of withMinRate(trickle(size, everyMs, chunks, call.signal), {
      ...limits,
      what: 'payload download',
      bytes: (c) => c.length,
      onSlow: () => {
        slowCalls++;
        call.abort();
      },
    }))
      received += chunk.length;
  })().then(
    () => undefined,
    (error: unknown) => error,
  );
  return {
    done,
    call,
    get slowCalls() {
      return slowCalls;
    },
    get received() {
      return received;
    },
  };
}

describe('minimum download rate', () => {
  it('passes a steady stream just above the minimum rate, window after window', async () => {
    // 1.25 KiB/s in 1 s chunks over 5 s windows, 60 s of it: each window holds
    // at least 4 chunks, which is exactly 5 s at the minimum of 1 KiB/s.
    const run = consume(1280, 1000, 60, {
      minBytesPerSec: 1024,
      windowMs: 5000,
      deadlineMs: 3_600_000,
    });
    await vi.advanceTimersByTimeAsync(61_000);
    expect(await run.done).toBeUndefined();
    expect(run.received).toBe(60 * 1280);
    expect(run.slowCalls).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects slow retrieval: 1 byte every 29 s fails TOO_SLOW at the end of its first 5 min window', async () => {
    const run = consume(1, 29_000, 1000, {
      minBytesPerSec: 1024,
      windowMs: 300_000,
      deadlineMs: 6 * 3_600_000,
    });
    await vi.advanceTimersByTimeAsync(299_999);
    expect(run.slowCalls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    const error = await run.done;
    expect(isPendulumError(error, 'TOO_SLOW'), String(error)).toBe(true);
    expect((error as Error).message).toBe(
      'payload download: 10 bytes in the last 300 s (0.033 B/s), below the minimum of 1024 B/s (slow retrieval)',
    );
    expect(run.slowCalls).toBe(1);
    expect(run.call.signal.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('judges each window on its own: a fast start does not pay for a later trickle', async () => {
    const call = new AbortController();
    let slowCalls = 0;
    // 1 MiB at once, then 1 byte a second.
    async function* burstThenTrickle() {
      yield new Uint8Array(1 << 20);
      yield* trickle(1, 1000, 1000, call.signal);
    }
    const done = (async () => {
      for await (const _ of withMinRate(burstThenTrickle(), {
        minBytesPerSec: 1024,
        windowMs: 10_000,
        deadlineMs: 3_600_000,
        what: 'payload download',
        bytes: (c) => c.length,
        onSlow: () => {
          slowCalls++;
          call.abort();
        },
      })) {
        // drained
      }
    })().catch((error: unknown) => error);
    // The first window holds the burst: well above 10 KiB.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(slowCalls).toBe(0);
    // The second holds 10 bytes.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(isPendulumError(await done, 'TOO_SLOW')).toBe(true);
    expect(slowCalls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('aborts at the deadline even when every window is above the minimum rate', async () => {
    // 2 KiB/s against a 1 KiB/s minimum, but the payload would take 100 s and the deadline is 60 s.
    const run = consume(2048, 1000, 100, {
      minBytesPerSec: 1024,
      windowMs: 5000,
      deadlineMs: 60_000,
    });
    await vi.advanceTimersByTimeAsync(59_999);
    expect(run.slowCalls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    const error = await run.done;
    expect(isPendulumError(error, 'TOO_SLOW'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /^payload download: not finished within its deadline of 60 s, \d+ bytes so far \(\d+ B\/s\) \(slow retrieval\)$/,
    );
    expect(run.slowCalls).toBe(1);
    expect(run.call.signal.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails a stream held by a slow consumer at once, not after its next item', async () => {
    const call = new AbortController();
    let slowCalls = 0;
    const stream = withMinRate(trickle(1, 100, 1000, call.signal), {
      minBytesPerSec: 1024,
      windowMs: 1000,
      deadlineMs: 3_600_000,
      what: 'payload download',
      bytes: (c) => c.length,
      onSlow: () => {
        slowCalls++;
        call.abort();
      },
    });
    const first = stream.next();
    await vi.advanceTimersByTimeAsync(100);
    expect((await first).done).toBe(false);
    // The consumer sits on its item past the end of the window.
    await vi.advanceTimersByTimeAsync(1000);
    expect(slowCalls).toBe(1);
    const error = await stream.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPendulumError(error, 'TOO_SLOW')).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves no timer behind when the consumer stops early', async () => {
    const call = new AbortController();
    const stream = withMinRate(trickle(4096, 10, 10, call.signal), {
      minBytesPerSec: 1024,
      windowMs: 1000,
      deadlineMs: 3_600_000,
      what: 'payload download',
      bytes: (c) => c.length,
      onSlow: () => call.abort(),
    });
    const first = stream.next();
    await vi.advanceTimersByTimeAsync(10);
    expect((await first).done).toBe(false);
    await stream.return(undefined);
    expect(vi.getTimerCount()).toBe(0);
  });
});
