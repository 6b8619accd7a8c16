// The agent's Watch loop on a virtual clock: a server that ends every stream
// at once, refuses it, or lets it go silent meets exponential backoff from
// the minimum interval up to the maximum, never a tight loop; a healthy
// stream's end starts the backoff over; closing the stream while busy is no
// failure; and nothing a stream or its handler throws stops the loop.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { WatchEvent } from '../../src/device/source/source.js';
import { startWatchLoop, type WatchLoop } from '../../src/device/watch.js';
import { PendulumError } from '../../src/errors.js';
import { until } from '../support/until.js';

const log = pino({ level: 'silent' });
const loops: WatchLoop[] = [];
afterEach(async () => {
  await Promise.all(loops.splice(0).map((l) => l.stop()));
});

// A virtual clock: sleeping moves it on at once.
function virtualClock() {
  let t = 0;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    sleep: async (ms: number) => {
      t += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

// loopWith starts an active loop over `open`, recording when each stream opened.
function loopWith(
  open: (signal: AbortSignal, clock: ReturnType<typeof virtualClock>) => AsyncIterable<WatchEvent>,
  options: { minIntervalMs?: number; maxIntervalMs?: number; onCheckIn?: () => void } = {},
) {
  const clock = virtualClock();
  const opened: number[] = [];
  const loop = startWatchLoop({
    open: (signal) => {
      opened.push(clock.now());
      return open(signal, clock);
    },
    onCheckIn: options.onCheckIn ?? (() => undefined),
    minIntervalMs: options.minIntervalMs ?? 1_000,
    maxIntervalMs: options.maxIntervalMs ?? 300_000,
    firstEventTimeoutMs: 30_000,
    log,
    now: clock.now,
    sleep: clock.sleep,
  });
  loops.push(loop);
  loop.setActive(true);
  const gaps = () => opened.slice(1).map((at, i) => at - (opened[i] ?? 0));
  return { loop, clock, opened, gaps };
}

// Streams a server ends at once, or refuses.
const endsAtOnce = async function* (): AsyncGenerator<WatchEvent> {
  yield { kind: 'heartbeat', intervalMs: 30_000 };
};
const refuses = async function* (): AsyncGenerator<WatchEvent> {
  yield* [];
  throw new PendulumError('RATE_LIMITED', 'this server has 10000 Watch streams open');
};

// untilSignal resolves when the signal aborts.
const untilSignal = (signal: AbortSignal) =>
  new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

describe('agent Watch loop', () => {
  it.each([
    ['ends every stream at once', endsAtOnce],
    ['refuses every stream', refuses],
  ])(
    'backs off exponentially when the server %s, never reconnecting in a tight loop',
    async (_, open) => {
      const { clock, opened, gaps } = loopWith(open);
      await until(() => clock.now() >= 120_000);
      // 1-2 s, 2-4 s, 4-8 s, ... : a few attempts in two minutes, not thousands.
      const inTwoMinutes = opened.filter((at) => at < 120_000).length;
      expect(inTwoMinutes).toBeGreaterThanOrEqual(5);
      expect(inTwoMinutes).toBeLessThanOrEqual(8);
      gaps()
        .slice(0, 6)
        .forEach((gap, i) => {
          expect(gap).toBeGreaterThanOrEqual(1_000 * 2 ** i);
          expect(gap).toBeLessThanOrEqual(1_000 * 2 ** (i + 1));
        });
    },
  );

  it('waits at most the maximum interval between attempts, and never less than the minimum', async () => {
    const { clock, gaps } = loopWith(refuses, { maxIntervalMs: 10_000 });
    await until(() => clock.now() >= 300_000);
    expect(Math.max(...gaps())).toBeLessThanOrEqual(10_000);
    expect(Math.min(...gaps())).toBeGreaterThanOrEqual(1_000);
    expect(
      gaps()
        .slice(-10)
        .every((gap) => gap >= 5_000),
    ).toBe(true);
  });

  it('starts the backoff over after a stream that stayed open a healthy while', async () => {
    let streams = 0;
    const { clock, gaps } = loopWith(async function* (_signal, c) {
      streams++;
      yield { kind: 'heartbeat', intervalMs: 30_000 };
      // The fifth stream lasts an hour, as one ended by watch_max_age does.
      if (streams === 5) c.advance(3_600_000);
    });
    await until(() => gaps().length >= 5);
    const [, , , fourth, fifth] = gaps();
    expect(fourth).toBeGreaterThanOrEqual(8_000);
    // The fifth gap includes its hour-long stream; the wait after it is 1-2 s.
    expect((fifth ?? 0) - 3_600_000).toBeGreaterThanOrEqual(1_000);
    expect((fifth ?? 0) - 3_600_000).toBeLessThanOrEqual(2_000);
    expect(clock.now()).toBeGreaterThan(3_600_000);
  });

  it('drops a stream that goes silent for three heartbeat intervals, and opens another', async () => {
    const cancelled: boolean[] = [];
    const { opened } = loopWith(async function* (signal) {
      yield { kind: 'heartbeat', intervalMs: 30 };
      await untilSignal(signal);
      cancelled.push(true);
      throw new PendulumError('CANCELLED', 'call cancelled');
    });
    await until(() => opened.length >= 2, 5_000);
    expect(cancelled.length).toBeGreaterThanOrEqual(1);
  });

  it('hands each check-in event to the agent, and survives a handler that throws', async () => {
    let calls = 0;
    const { opened } = loopWith(
      async function* () {
        yield { kind: 'check-in' };
        yield { kind: 'check-in' };
      },
      {
        onCheckIn: () => {
          calls++;
          throw new Error('agent bug');
        },
      },
    );
    await until(() => opened.length >= 2);
    expect(calls).toBeGreaterThanOrEqual(3);
  });

  it('survives a source that throws before it returns a stream', async () => {
    const { opened, gaps } = loopWith(() => {
      throw new TypeError('cannot read properties of undefined');
    });
    await until(() => opened.length >= 3);
    expect(gaps().every((gap) => gap >= 1_000)).toBe(true);
  });

  it('closes the stream when the agent is busy, counting no failure, and reopens it after the minimum interval', async () => {
    const signals: AbortSignal[] = [];
    const { loop, clock, opened } = loopWith(async function* (signal) {
      signals.push(signal);
      yield { kind: 'heartbeat', intervalMs: 30_000 };
      await untilSignal(signal);
    });
    await until(() => signals.length === 1);
    loop.setActive(false);
    await until(() => signals[0]?.aborted === true);
    const closedAt = clock.now();
    loop.setActive(true);
    await until(() => opened.length === 2);
    expect((opened[1] ?? 0) - closedAt).toBe(1_000);
    expect(loop.attempts).toBe(2);
  });

  it('stops for good, ending the stream it holds', async () => {
    const signals: AbortSignal[] = [];
    const { loop } = loopWith(async function* (signal) {
      signals.push(signal);
      yield { kind: 'heartbeat', intervalMs: 30_000 };
      await untilSignal(signal);
    });
    await until(() => signals.length === 1);
    await loop.stop();
    expect(signals[0]?.aborted).toBe(true);
    loop.setActive(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(signals).toHaveLength(1);
  });
});
