// Writing a slot: the agent's stream-into-slot path (hash while writing, sync,
// read back and hash again) against `dd conv=fsync` followed by `sha256sum`.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { downloadIntoSlot } from '../src/device/download.js';
import type { AgentRuntime } from '../src/device/runtime.js';
import { createRawSlot } from '../src/device/slots/raw.js';
import { sha256, toHex } from '../src/trust/index.js';
import { report, run, timeRuns } from './measure.js';

const imageMiB = 256;

// benchSlotWrite measures both on `target` (a file, or a loop device).
export async function benchSlotWrite(dir: string, target: string, label: string): Promise<void> {
  const image = randomBytes(imageMiB * 1024 * 1024);
  const imagePath = join(dir, 'image.bin');
  await writeFile(imagePath, image);
  const digest = toHex(sha256(image));
  const other = join(dir, 'booted.img');
  await writeFile(other, Buffer.alloc(1024));

  const baseline = await timeRuns(3, () => {
    run('dd', [`if=${imagePath}`, `of=${target}`, 'bs=1M', 'conv=fsync,notrunc', 'status=none']);
    run('sha256sum', [target]);
  });

  const slot = createRawSlot({ name: 'B', device: target });
  const booted = createRawSlot({ name: 'A', device: other });
  const chunk = 1024 * 1024;
  const rt = {
    settings: {
      classId: 'bench',
      syncEveryBytes: 8 * chunk,
      progressEveryMs: 2000,
      downloadIdleMs: 60_000,
      inventory: {},
    },
    slots: { A: booted, B: slot },
    source: {
      async *download(_id: string, _p: string, offset: number) {
        for (let at = offset; at < image.length; at += chunk)
          yield { offset: at, data: image.subarray(at, at + chunk) };
      },
    },
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
  } as unknown as AgentRuntime;
  const deployment = {
    id: 'bench',
    payloadId: digest,
    version: 'b',
    sequence: 2,
    sha256: digest,
    size: image.length,
    targetSlot: 'B',
    fromSlot: 'A',
    fromVersion: 'a',
    bootAttempts: 1,
    confirmDeadlineMs: 1000,
  } as const;
  const ours = await timeRuns(3, async () => {
    await downloadIntoSlot(rt, deployment, 0, {
      synced: async () => undefined,
      progress: async () => undefined,
    });
    const readBack = await slot.digest(image.length, rt.signal);
    if (readBack !== digest) throw new Error('slot digest mismatch');
  });
  report(
    `slot write (${label}, ${imageMiB} MiB)`,
    { label: 'pendulum', value: imageMiB / ours, unit: 'MiB/s' },
    { label: 'dd+sha256sum', value: imageMiB / baseline },
    true,
  );
}
