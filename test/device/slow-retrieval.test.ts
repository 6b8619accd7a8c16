// The slow retrieval attack (TUF): a server that sends just enough to keep the
// idle timeout quiet, or keeps a download going for ever, holds the device in
// `downloading`. The agent cuts it off (TOO_SLOW), fails the deployment
// rather than resuming it, arms nothing and tells the server why.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSimulatedBootloader,
  initSimulatedBootloader,
} from '../../src/device/bootloaders/simulated.js';
import type { AgentSettings } from '../../src/device/runtime.js';
import type { PayloadChunk, UpdateSource } from '../../src/device/source/source.js';
import { type AgentRig, makeAgentRig, rigRuntime, runAgentOnce } from '../support/agent-rig.js';
import { makeTempDir } from '../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir('slow-retrieval');
});
afterAll(async () => {
  await tmp.remove();
});

async function rig(
  name: string,
): Promise<AgentRig & { boot: { envPath: string; cmdlinePath: string } }> {
  const made = await makeAgentRig(join(tmp.path, name), true);
  const boot = { envPath: join(made.dir, 'grubenv'), cmdlinePath: join(made.dir, 'cmdline') };
  await initSimulatedBootloader({ ...boot, booted: 'A', maxTries: 3 });
  return { ...made, boot };
}

// trickling is the rig's server, except that it sends the payload `bytes` at
// a time every `everyMs`, stopping when the agent cancels; `attempts` counts
// the download calls.
function trickling(r: AgentRig, bytes: number, everyMs: number) {
  const attempts: number[] = [];
  const source: UpdateSource = {
    ...r.source,
    async *download(_id, _payloadId, offset, signal): AsyncGenerator<PayloadChunk> {
      attempts.push(offset);
      for (let at = offset; at < r.image.length && !signal.aborted; at += bytes) {
        await pause(everyMs, signal);
        if (signal.aborted) return;
        yield { offset: at, data: r.image.subarray(at, Math.min(at + bytes, r.image.length)) };
      }
    },
  };
  return { source, attempts };
}

// pause waits `ms`, or until `signal` aborts.
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function runWith(
  r: Awaited<ReturnType<typeof rig>>,
  source: UpdateSource,
  settings: Partial<AgentSettings>,
) {
  const bootloader = createSimulatedBootloader(r.boot);
  const before = await bootloader.state();
  const slotA = await readFile(r.slots.A);
  const rt = await rigRuntime(r, {
    bootloader,
    source,
    checkHealth: async () => undefined,
    reboot: async () => undefined,
    signal: new AbortController().signal,
    settings,
  });
  const started = Date.now();
  const result = await runAgentOnce(rt);
  return {
    result,
    tookMs: Date.now() - started,
    before,
    after: await bootloader.state(),
    slotAUnchanged: (await readFile(r.slots.A)).equals(slotA),
    journal: await r.journal.load(),
  };
}

describe('agent: slow retrieval', () => {
  it('rejects slow retrieval: a server trickling 1 byte at a time just inside the idle timeout is aborted and reported TOO_SLOW', async () => {
    // Scaled down: 1 byte every 100 ms against a 2 s idle timeout (which never
    // fires, even on a loaded machine), judged at 1 KiB/s over 1 s windows,
    // stands for 1 byte every 29 s against a 30 s idle timeout and the
    // default 5 min window.
    const r = await rig('trickle');
    const { source, attempts } = trickling(r, 1, 100);
    const run = await runWith(r, source, {
      downloadIdleMs: 2000,
      downloadMinBytesPerSec: 1024,
      downloadMinRateWindowMs: 1000,
    });
    expect(run.result).toBe('idle');
    // Cut off (the whole image would take days at this rate), and not retried.
    expect(run.tookMs).toBeLessThan(8000);
    expect(attempts).toEqual([0]);
    const final = r.source.reports.at(-1);
    expect(final).toMatchObject({ state: 'failed', errorCode: 'TOO_SLOW' });
    expect(final?.message).toMatch(
      /^payload download: \d+ bytes in the last 1 s \([\d.]+ B\/s\), below the minimum of 1024 B\/s \(slow retrieval\)$/,
    );
    expect(r.source.reports.filter((report) => report.state === 'failed')).toHaveLength(1);
    expect(run.after).toEqual(run.before);
    expect(run.slotAUnchanged).toBe(true);
    expect(run.journal?.machine.name).toBe('idle');
    expect(run.journal?.committed).toEqual({ slot: 'A', version: '1.0.0', sequence: 1 });
    expect(run.journal?.slots.B.status).toBe('invalid');
  }, 20_000);

  it('rejects slow retrieval: a download above the minimum rate that outlasts its deadline is aborted and reported TOO_SLOW', async () => {
    // 8 KiB every 50 ms (160 KiB/s, far above 1 KiB/s) would take 20 s for the
    // 3 MiB image; a 1.5 s deadline stands for the default 6 h one.
    const r = await rig('deadline');
    const { source, attempts } = trickling(r, 8192, 50);
    const run = await runWith(r, source, {
      downloadIdleMs: 2000,
      downloadMinBytesPerSec: 1024,
      downloadMinRateWindowMs: 1000,
      downloadDeadlineMs: 1500,
    });
    expect(run.result).toBe('idle');
    // Cut off at the deadline, well before the 20 s the whole image would take.
    expect(run.tookMs).toBeLessThan(8000);
    expect(attempts).toEqual([0]);
    const final = r.source.reports.at(-1);
    expect(final).toMatchObject({ state: 'failed', errorCode: 'TOO_SLOW' });
    expect(final?.message).toMatch(
      /^payload download: not finished within its deadline of 1\.5 s, \d+ bytes so far \(\d+ B\/s\) \(slow retrieval\)$/,
    );
    expect(run.after).toEqual(run.before);
    expect(run.slotAUnchanged).toBe(true);
    expect(run.journal?.machine.name).toBe('idle');
    expect(run.journal?.committed).toEqual({ slot: 'A', version: '1.0.0', sequence: 1 });
    expect(run.journal?.slots.B.status).toBe('invalid');
  }, 20_000);
});
