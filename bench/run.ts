// `npm run bench`: every benchmark, each as a ratio against a baseline
// measured in the same run (or a goal). Bounded in size and time (about five
// minutes, most of it the simulated fleet).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchDownload } from './download.js';
import { benchFleetLoad } from './fleet-load.js';
import { benchSlotWrite } from './slot-write.js';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-bench-'));
  try {
    const file = join(dir, 'slot.img');
    writeFileSync(file, Buffer.alloc(0));
    execFileSync('truncate', ['-s', '300M', file]);
    await benchSlotWrite(dir, file, 'plain file');
    if (process.getuid?.() === 0) {
      const backing = join(dir, 'loop.img');
      execFileSync('truncate', ['-s', '300M', backing]);
      const loop = execFileSync('losetup', ['-f', '--show', backing], { encoding: 'utf8' }).trim();
      try {
        await benchSlotWrite(dir, loop, 'loop device');
      } finally {
        execFileSync('losetup', ['-d', loop]);
      }
    }
    await benchDownload(dir);
    await benchFleetLoad(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
