// After a commit the agent keeps watching the release it committed: it counts
// its own restarts, reruns the health checks while idle, and says both at
// every check-in, so a rollout can halt when freshly updated devices sicken.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent } from '../../src/device/agent.js';
import { createSimulatedBootloader, simulateBoot } from '../../src/device/bootloaders/simulated.js';
import type { DeviceStatusReport, UpdateSource } from '../../src/device/source/source.js';
import { PendulumError } from '../../src/errors.js';
import { type BootedRig, makeBootedRig, rigRuntime, runAgentOnce } from '../support/agent-rig.js';
import { makeTempDir } from '../support/temp-dir.js';

let dir: { path: string; remove: () => Promise<void> };
let rig: BootedRig;
let clock: number;
let healthy: boolean;
let statuses: DeviceStatusReport[];
let source: UpdateSource;

beforeEach(async () => {
  dir = await makeTempDir('post-commit');
  rig = await makeBootedRig(join(dir.path, 'rig'));
  clock = Date.now();
  healthy = true;
  statuses = [];
  source = {
    ...rig.source,
    checkIn: (status, signal) => {
      statuses.push(status);
      return rig.source.checkIn(status, signal);
    },
  };
});
afterEach(async () => dir.remove());

const runtime = (signal = new AbortController().signal) =>
  rigRuntime(rig, {
    bootloader: createSimulatedBootloader(rig.boot),
    checkHealth: async () => {
      if (!healthy)
        throw new PendulumError('HEALTH_CHECK_FAILED', 'health check "api" failed: exit 1');
    },
    reboot: async () => undefined,
    signal,
    source,
    now: () => clock,
    settings: { periodicHealthEveryMs: 60_000 },
  });

// commitUpdate takes the rig's offered release through its trial to commit.
async function commitUpdate() {
  expect(await runAgentOnce(await runtime())).toBe('reboot');
  await simulateBoot(rig.boot);
  expect(await runAgentOnce(await runtime())).toBe('idle');
  const journal = await rig.journal.load();
  expect(journal?.committed.version).toBe('2.0.0');
}

describe('post-commit health on the device', () => {
  it('starts a clean record at commit', async () => {
    await commitUpdate();
    expect((await rig.journal.load())?.postCommit).toEqual({
      committedAt: clock,
      restarts: 0,
      checksRun: 0,
      checksFailed: 0,
      lastFailure: '',
      lastCheckAt: clock,
    });
  });

  it('reruns the health checks while idle when due, counts failures, and reports them at every check-in', async () => {
    await commitUpdate();
    clock += 59_000;
    await runAgentOnce(await runtime());
    expect((await rig.journal.load())?.postCommit?.checksRun).toBe(0);

    clock += 1_000;
    healthy = false;
    await runAgentOnce(await runtime());
    expect((await rig.journal.load())?.postCommit).toMatchObject({
      checksRun: 1,
      checksFailed: 1,
      lastFailure: 'health check "api" failed: exit 1',
      lastCheckAt: clock,
    });

    clock += 60_000;
    healthy = true;
    await runAgentOnce(await runtime());
    expect((await rig.journal.load())?.postCommit).toMatchObject({ checksRun: 2, checksFailed: 1 });
    expect(statuses.at(-1)?.health).toMatchObject({
      checksRun: 1,
      checksFailed: 1,
      lastFailure: 'health check "api" failed: exit 1',
    });
  });

  it('counts each start of a long-running agent, but not a --once run', async () => {
    await commitUpdate();
    const controller = new AbortController();
    const result = await runAgent(await runtime(controller.signal), {
      once: false,
      pollIntervalMs: 1000,
      jitter: 0,
      backoff: { minMs: 1, maxMs: 1 },
      rebootGraceMs: 0,
      sleep: async () => controller.abort(),
    });
    expect(result).toBe('stopped');
    expect((await rig.journal.load())?.postCommit?.restarts).toBe(1);
    await runAgentOnce(await runtime());
    expect((await rig.journal.load())?.postCommit?.restarts).toBe(1);
  });

  it('has nothing to report before it commits a release itself', async () => {
    await runAgentOnce(await runtime());
    expect(statuses[0]?.health).toBeUndefined();
  });
});
