// The agent's loop: server errors back off exponentially, never in a tight
// loop, and a successful poll resets the backoff.
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
import type { UpdateSource } from '../../src/device/source/source.js';
import { PendulumError } from '../../src/errors.js';
import { generateKeyPair } from '../../src/trust/index.js';
import { makeTempDir } from '../support/temp-dir.js';
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
