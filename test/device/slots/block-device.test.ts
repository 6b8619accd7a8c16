import { describe, expect, it } from 'vitest';
import { majorMinor } from '../../../src/device/slots/block-device.js';

// glibc's makedev, to build device numbers the way the kernel reports them.
const makedev = (major: bigint, minor: bigint) =>
  ((major & 0xfffff000n) << 32n) |
  ((major & 0xfffn) << 8n) |
  ((minor & 0xffffff00n) << 12n) |
  (minor & 0xffn);

describe('majorMinor', () => {
  it.each([
    [7n, 0n],
    [259n, 1n],
    [8n, 300n],
    [4095n, 1048575n],
    [4096n, 5n],
  ])('names device %s:%s as sysfs and mountinfo do', (major, minor) => {
    expect(majorMinor(makedev(major, minor))).toBe(`${major}:${minor}`);
  });
});
