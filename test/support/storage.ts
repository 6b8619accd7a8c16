// Real storage for tests that need it: loop devices and small tmpfs mounts.
// Both need root; the capability checks let a suite skip where it cannot run —
// except under PENDULUM_TEST_STRICT=1 (set by .ci/run), where a missing
// capability fails the run instead of quietly skipping what it guards.
import { execFileSync } from 'node:child_process';
import { rmdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function succeeds(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const strict = process.env.PENDULUM_TEST_STRICT === '1';

// capability returns `available`, or throws in strict mode when it is not.
function capability(name: string, available: boolean): boolean {
  if (strict && !available)
    throw new Error(`PENDULUM_TEST_STRICT=1 but this machine cannot ${name}`);
  return available;
}

const isRoot = process.getuid?.() === 0;

// canUseLoopDevices: root, and losetup can find a free loop device.
export const canUseLoopDevices = capability(
  'use loop devices (root + losetup)',
  isRoot && succeeds('losetup', ['-f']),
);

// canMount: root, and mount(8) is present.
export const canMount = capability(
  'mount a tmpfs (root + mount)',
  isRoot && succeeds('mount', ['--version']),
);

// hasCommand tells whether a program is on PATH.
export function hasCommand(name: string): boolean {
  return capability(`run ${name}`, succeeds('sh', ['-c', `command -v ${name}`]));
}

// attachLoop puts a loop device over `file` and returns its node.
export function attachLoop(file: string): string {
  return execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim();
}

// detachLoop releases a loop device.
export function detachLoop(device: string): void {
  execFileSync('losetup', ['-d', device]);
}

// mountTmpfs mounts a tmpfs of `size` (e.g. "1m") on a new directory.
export async function mountTmpfs(size: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return dir;
}

// unmount unmounts whatever is mounted on `dir` and removes the directory.
export function unmount(dir: string): void {
  execFileSync('umount', [dir]);
  rmdirSync(dir);
}
