// The Watch hub's bounds and wakes: it refuses streams past its limit, keeps
// one stream per device, ends streams at their age and at shutdown, wakes
// only the devices a change concerns, and spreads many wakes over time.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import { createWatchHub, type WatchEvent, type WatchHub } from '../../../src/server/watch/hub.js';
import { pause, until } from '../../support/until.js';

const log = pino({ level: 'silent' });
const hubs: WatchHub[] = [];
afterEach(() => {
  for (const hub of hubs.splice(0)) hub.close();
});

function hub(options: Partial<Parameters<typeof createWatchHub>[0]> = {}): WatchHub {
  const made = createWatchHub({
    maxStreams: 100,
    maxAgeMs: 3_600_000,
    heartbeatMs: 30_000,
    wakeRate: 1000,
    log,
    ...options,
  });
  hubs.push(made);
  return made;
}

interface Watcher {
  readonly events: WatchEvent['event'][];
  // When each check-in hint arrived (Date.now()).
  readonly hints: number[];
  // Resolves with how the stream ended: 'ended', or the error it failed with.
  readonly done: Promise<unknown>;
  readonly cancel: () => void;
}

// watch opens a stream for a device and reads it in the background.
function watch(h: WatchHub, deviceId: string, classId = 'gw'): Watcher {
  const abort = new AbortController();
  const events: WatchEvent['event'][] = [];
  const hints: number[] = [];
  const done = (async () => {
    for await (const message of h.open({ deviceId, classId }, abort.signal)) {
      events.push(message.event);
      if (message.event?.case === 'checkIn') hints.push(Date.now());
    }
    return 'ended';
  })().catch((error: unknown) => error);
  return { events, hints, done, cancel: () => abort.abort() };
}

describe('Watch hub', () => {
  it('refuses the stream past max_watch_streams with RATE_LIMITED, telling the device to poll', async () => {
    const h = hub({ maxStreams: 2 });
    watch(h, 'd1');
    watch(h, 'd2');
    await until(() => h.size === 2);
    const refused = await watch(h, 'd3').done;
    expect(isPendulumError(refused, 'RATE_LIMITED')).toBe(true);
    expect((refused as Error).message).toMatch(/max_watch_streams.*poll/);
    expect(h.size).toBe(2);
  });

  it("ends a device's old stream when it opens a new one, without counting it twice", async () => {
    const h = hub({ maxStreams: 1 });
    const first = watch(h, 'd1');
    await until(() => h.size === 1);
    const second = watch(h, 'd1');
    expect(await first.done).toBe('ended');
    await until(() => second.events.length === 1);
    expect(h.size).toBe(1);
    h.notify({ classId: 'gw', deviceId: null });
    await until(() => second.hints.length === 1);
    expect(first.hints).toEqual([]);
  });

  it('starts every stream with a heartbeat that says when the next is due', async () => {
    const h = hub({ heartbeatMs: 50 });
    const w = watch(h, 'd1');
    await until(() => w.events.length >= 3);
    expect(w.events[0]?.case).toBe('heartbeat');
    const first = w.events[0];
    expect(first?.case === 'heartbeat' ? first.value.interval : undefined).toMatchObject({
      nanos: 50_000_000,
    });
  });

  it('ends a stream cleanly at its maximum age', async () => {
    const h = hub({ maxAgeMs: 200 });
    const w = watch(h, 'd1');
    const started = Date.now();
    expect(await w.done).toBe('ended');
    expect(Date.now() - started).toBeGreaterThanOrEqual(170);
    expect(h.size).toBe(0);
  });

  it('forgets a stream whose device went away', async () => {
    const h = hub();
    const w = watch(h, 'd1');
    await until(() => h.size === 1);
    w.cancel();
    await w.done;
    expect(h.size).toBe(0);
  });

  it('ends every stream at close and refuses new ones', async () => {
    const h = hub();
    const streams = ['d1', 'd2', 'd3'].map((id) => watch(h, id));
    await until(() => h.size === 3);
    h.close();
    expect(await Promise.all(streams.map((s) => s.done))).toEqual(['ended', 'ended', 'ended']);
    expect(isPendulumError(await watch(h, 'd4').done, 'UNAVAILABLE')).toBe(true);
  });

  it('wakes only the devices a change concerns: one device, one class, or all', async () => {
    const h = hub();
    const a1 = watch(h, 'a1', 'a');
    const a2 = watch(h, 'a2', 'a');
    const b1 = watch(h, 'b1', 'b');
    await until(() => h.size === 3);
    expect(h.notify({ classId: 'a', deviceId: 'a2' })).toBe(1);
    expect(h.notify({ classId: 'b', deviceId: 'a1' })).toBe(0);
    await until(() => a2.hints.length === 1);
    expect(h.notify({ classId: 'b', deviceId: null })).toBe(1);
    await until(() => b1.hints.length === 1);
    await pause(50);
    expect([a1.hints.length, a2.hints.length, b1.hints.length]).toEqual([0, 1, 1]);
    expect(h.notify({ classId: null, deviceId: null })).toBe(3);
    await until(() => a1.hints.length === 1 && a2.hints.length === 2 && b1.hints.length === 2);
  });

  it('spreads the wakes of many devices over (devices / wake rate) seconds', async () => {
    const h = hub({ wakeRate: 100 });
    const streams = Array.from({ length: 30 }, (_, i) => watch(h, `d${i}`));
    await until(() => h.size === 30);
    expect(h.notify({ classId: 'gw', deviceId: null })).toBe(30);
    await until(() => streams.every((s) => s.hints.length === 1), 5_000);
    const at = streams.map((s) => s.hints[0] ?? 0);
    const spread = Math.max(...at) - Math.min(...at);
    // 30 devices at 100 a second: over about 300 ms, not all at once.
    expect(spread).toBeGreaterThan(100);
    expect(spread).toBeLessThan(1_000);
  });

  it('wakes a device once for changes that come while its wake is pending', async () => {
    const h = hub({ wakeRate: 10, random: () => 0.9 });
    const w = watch(h, 'd1');
    await until(() => h.size === 1);
    expect(h.notify({ classId: 'gw', deviceId: null })).toBe(1);
    expect(h.notify({ classId: 'gw', deviceId: 'd1' })).toBe(0);
    await until(() => w.hints.length === 1);
    await pause(100);
    expect(w.hints).toHaveLength(1);
  });

  it('queues a change behind the wakes still being handed out', async () => {
    const h = hub({ wakeRate: 20 });
    for (let i = 0; i < 10; i++) watch(h, `a${i}`, 'a');
    const late = watch(h, 'b1', 'b');
    await until(() => h.size === 11);
    h.notify({ classId: 'a', deviceId: null });
    const notified = Date.now();
    h.notify({ classId: 'b', deviceId: null });
    await until(() => late.hints.length === 1, 5_000);
    // Ten wakes at 20 a second take half a second; the next one waits for them.
    expect(Date.now() - notified).toBeGreaterThanOrEqual(450);
  });
});
