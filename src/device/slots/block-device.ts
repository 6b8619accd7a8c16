// What Linux says about a piece of storage, from sysfs and procfs only (no
// external tools): size, identity and whether it is mounted.
import type { BigIntStats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

// majorMinor renders a device number as "major:minor" (glibc's encoding,
// as in /sys/dev/block and /proc/self/mountinfo).
export function majorMinor(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

// blockDeviceSize is the size in bytes of a block device; sysfs counts
// 512-byte sectors whatever the device's own sector size.
export async function blockDeviceSize(device: string): Promise<number> {
  const sectors = (await readFile(`/sys/dev/block/${device}/size`, 'utf8')).trim();
  return Number(sectors) * 512;
}

// mountPointOf returns where a block device is mounted, if it is.
export async function mountPointOf(device: string): Promise<string | undefined> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    if (fields[2] === device && fields[4] !== undefined) {
      return fields[4].replace(/\\([0-7]{3})/g, (_, octal: string) =>
        String.fromCharCode(Number.parseInt(octal, 8)),
      );
    }
  }
  return undefined;
}

// storageIds names the storage behind a path, so two paths can be compared:
// a file by device and inode (hard links and other paths match), a block
// device by its number, and a loop device also by the file behind it.
export async function storageIds(stats: BigIntStats): Promise<Set<string>> {
  if (!stats.isBlockDevice()) return new Set([fileId(stats)]);
  const device = majorMinor(stats.rdev);
  const ids = new Set([`block:${device}`]);
  const backing = await readFile(`/sys/dev/block/${device}/loop/backing_file`, 'utf8').catch(
    () => undefined,
  );
  if (backing !== undefined) {
    const backingStats = await stat(backing.replace(/\n$/, ''), { bigint: true }).catch(
      () => undefined,
    );
    if (backingStats !== undefined) ids.add(fileId(backingStats));
  }
  return ids;
}

function fileId(stats: BigIntStats): string {
  return `file:${stats.dev}:${stats.ino}`;
}
