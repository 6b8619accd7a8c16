// Writing a slot: the agent's stream-into-slot path (hash while writing, sync,
// read back and hash again) against `dd conv=fsync` followed by `sha256sum`.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadIntoSlot } from '../src/device/download.js';
import { createRawSlot } from '../src/device/slots/raw.js';
import { sha256, toHex } from '../src/trust/index.js';
import { benchDeployment, downloadRuntime } from './download-runtime.js';
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
  const rt = downloadRuntime(
    { A: booted, B: slot },
    {
      async *download(_id: string, _p: string, offset: number) {
        for (let at = offset; at < image.length; at += chunk)
          yield { offset: at, data: image.subarray(at, at + chunk) };
      },
    },
  );
  const deployment = benchDeployment('bench', digest, image.length);
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
