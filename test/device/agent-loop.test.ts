// The agent's loop: server errors back off exponentially, never in a tight
// loop, and a successful poll resets the backoff; a Watch event wakes the
// idle agent to check in at once, a broken stream leaves polling as it was,
// and no flood of events brings check-ins closer than the minimum interval.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../src/device/agent.js';
import { factoryState, parseAgentState } from '../../src/device/agent-state.js';
import {
  createSimulatedBootloader,
  initSimulatedBootloader,
} from '../../src/device/bootloaders/simulated.js';
import { createJournal } from '../../src/device/journal.js';
import { createRollbackFloorStore } from '../../src/device/rollback-floor.js';
import { createRuntime } from '../../src/device/runtime.js';
import { createRawSlot } from '../../src/device/slots/raw.js';
import type { UpdateSource, WatchEvent } from '../../src/device/source/source.js';
import { PendulumError } from '../../src/errors.js';
import { generateKeyPair } from '../../src/trust/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { freshnessFor, rootDocument, testDeviceId } from '../support/vendor.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir('loop');
});
afterAll(async () => {
  await tmp.remove();
});

async function runtimeWith(source: UpdateSource, controller: AbortController) {
  const env = join(tmp.path, `env-${Math.random()}`);
  const cmdline = `${env}.cmdline`;
  await initSimulatedBootloader({ envPath: env, cmdlinePath: cmdline, booted: 'A', maxTries: 3 });
  const key = generateKeyPair();
  const root = rootDocument({ version: 1, rootKeys: [key], releaseKeys: [key], signers: [key] });
  return createRuntime({
    settings: {
      deviceId: testDeviceId,
      classId: 'gw',
      syncEveryBytes: 1 << 20,
      progressEveryMs: 1000,
      downloadIdleMs: 1000,
      downloadMinBytesPerSec: 1024,
      downloadMinRateWindowMs: 300_000,
      downloadDeadlineMs: 6 * 3_600_000,
      inventory: {},
      periodicHealthEveryMs: 0,
    },
    // Never written: no offer is ever made in these tests.
    slots: {
      A: createRawSlot({ name: 'A', device: `${env}.a` }),
      B: createRawSlot({ name: 'B', device: `${env}.b` }),
    },
    bootloader: createSimulatedBootloader({ envPath: env, cmdlinePath: cmdline }),
    source,
    rollbackFloor: createRollbackFloorStore(`${env}.floor`),
    checkHealth: async () => undefined,
    reboot: async () => undefined,
    now: () => Date.now(),
    log: pino({ level: 'silent' }),
    signal: controller.signal,
    journal: createJournal(`${env}.journal`, (v) => parseAgentState(v)),
    initial: factoryState({ booted: 'A', version: '1.0.0', sequence: 1, trustRoot: root }),
  });
}

const failing = (calls: { n: number }, succeedAfter = Number.POSITIVE_INFINITY): UpdateSource => ({
  async checkIn(status) {
    calls.n++;
    if (calls.n <= succeedAfter) throw new PendulumError('UNAVAILABLE', 'server down');
    return {
      offer: undefined,
      pollIntervalMs: 30_000,
      trustRoots: [],
      freshness: freshnessFor({ nonce: status.nonce, offer: undefined }),
    };
  },
  download: () => {
    throw new Error('not used');
  },
  report: async () => undefined,
  close: () => undefined,
});

describe('agent loop', () => {
  it('backs off exponentially while the server is down, never retrying at once', async () => {
    const controller = new AbortController();
    const calls = { n: 0 };
    const waits: number[] = [];
    const rt = await runtimeWith(failing(calls), controller);
    await runAgent(rt, {
      once: false,
      pollIntervalMs: 60_000,
      jitter: 0.2,
      backoff: { minMs: 5_000, maxMs: 600_000 },
      rebootGraceMs: 1000,
      sleep: async (ms) => {
        waits.push(ms);
        if (waits.length === 10) controller.abort();
      },
    });
    expect(calls.n).toBe(10);
    expect(waits.every((ms) => ms >= 2_500)).toBe(true);
    // Each wait's band doubles: wait n lies in [min·2^(n-1)/2, min·2^(n-1)], capped.
    waits.forEach((ms, i) => {
      const ceiling = Math.min(600_000, 5_000 * 2 ** i);
      expect(ms).toBeGreaterThanOrEqual(ceiling / 2);
      expect(ms).toBeLessThanOrEqual(ceiling);
    });
  });

  it('goes back to the server poll interval once a poll succeeds', async () => {
    const controller = new AbortController();
    const calls = { n: 0 };
    const waits: number[] = [];
    const rt = await runtimeWith(failing(calls, 3), controller);
    await runAgent(rt, {
      once: false,
      pollIntervalMs: 60_000,
      jitter: 0.2,
      backoff: { minMs: 5_000, maxMs: 600_000 },
      rebootGraceMs: 1000,
      sleep: async (ms) => {
        waits.push(ms);
        if (waits.length === 5) controller.abort();
      },
    });
    // Three backoffs, then the server's 30 s interval with ±20 % jitter.
    expect(waits.slice(3).every((ms) => ms >= 24_000 && ms <= 36_000)).toBe(true);
  });
});

// watching answers every check-in with nothing and `pollIntervalMs`, and
// serves `watch` as its Watch stream.
function watching(
  pollIntervalMs: number,
  watch: (signal: AbortSignal) => AsyncIterable<WatchEvent>,
): UpdateSource & { checkIns: number[] } {
  const checkIns: number[] = [];
  return {
    checkIns,
    async checkIn(status) {
      checkIns.push(Date.now());
      return {
        offer: undefined,
        pollIntervalMs,
        trustRoots: [],
        freshness: freshnessFor({ nonce: status.nonce, offer: undefined }),
      };
    },
    download: () => {
      throw new Error('not used');
    },
    report: async () => undefined,
    watch,
    close: () => undefined,
  };
}

// runFor runs the agent (real clock) over `source` until `done`, then stops it.
async function runFor(source: UpdateSource, done: () => boolean, minIntervalMs = 100) {
  const controller = new AbortController();
  const rt = await runtimeWith(source, controller);
  const run = runAgent(rt, {
    once: false,
    pollIntervalMs: 3_600_000,
    jitter: 0,
    backoff: { minMs: 1_000, maxMs: 60_000 },
    rebootGraceMs: 1000,
    watch: { minIntervalMs, firstEventTimeoutMs: 30_000 },
  });
  try {
    await until(done, 5_000);
  } finally {
    controller.abort();
  }
  return run;
}

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

describe('agent loop with a Watch stream', () => {
  it('checks in at once when the stream says so, though its poll interval is an hour', async () => {
    let hint: () => void = () => undefined;
    const source = watching(3_600_000, async function* (signal) {
      yield { kind: 'heartbeat', intervalMs: 30_000 };
      const asked = new Promise<void>((resolve) => {
        hint = resolve;
      });
      await Promise.race([asked, untilAborted(signal)]);
      if (!signal.aborted) yield { kind: 'check-in' };
      await untilAborted(signal);
    });
    const hinted = { at: 0 };
    await runFor(source, () => {
      if (
        source.checkIns.length === 1 &&
        hinted.at === 0 &&
        Date.now() - (source.checkIns[0] ?? 0) > 200
      ) {
        hinted.at = Date.now();
        hint();
      }
      return source.checkIns.length >= 2;
    });
    expect(source.checkIns).toHaveLength(2);
    expect((source.checkIns[1] ?? 0) - hinted.at).toBeLessThan(200);
  });

  it('goes on polling on its interval when the stream fails, and retries the stream with backoff', async () => {
    let opened = 0;
    const source = watching(100, () => {
      opened++;
      throw new PendulumError('UNAVAILABLE', 'no stream here');
    });
    const started = Date.now();
    await runFor(source, () => source.checkIns.length >= 6);
    const elapsed = Date.now() - started;
    // Six polls 100 ms apart; in that time a stream retried from 100 ms with backoff.
    expect(elapsed).toBeLessThan(2_000);
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(4);
  });

  it('keeps check-ins the minimum interval apart however many events a server sends', async () => {
    const source = watching(3_600_000, async function* (signal) {
      while (!signal.aborted) {
        yield { kind: 'check-in' };
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    });
    const started = Date.now();
    await runFor(source, () => Date.now() - started >= 1_000, 200);
    // A thousand events in a second; check-ins 200 ms apart (each measured from
    // when the previous poll began, a few ms of local I/O before its call).
    expect(source.checkIns.length).toBeGreaterThanOrEqual(3);
    expect(source.checkIns.length).toBeLessThanOrEqual(6);
    const gaps = source.checkIns.slice(1).map((at, i) => at - (source.checkIns[i] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(150);
  });

  it('opens no stream when run once', async () => {
    let opened = 0;
    const source = watching(3_600_000, async function* () {
      opened++;
      yield { kind: 'check-in' };
    });
    const rt = await runtimeWith(source, new AbortController());
    const result = await runAgent(rt, {
      once: true,
      pollIntervalMs: 3_600_000,
      jitter: 0,
      backoff: { minMs: 1_000, maxMs: 60_000 },
      rebootGraceMs: 1000,
      watch: { minIntervalMs: 100, firstEventTimeoutMs: 30_000 },
    });
    expect(result).toBe('idle');
    expect(opened).toBe(0);
  });
});
