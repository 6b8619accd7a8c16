import { describe, expect, it } from 'vitest';
import { parseBootedSlot } from '../../../src/device/bootloaders/cmdline.js';
import { isPendulumError } from '../../../src/errors.js';

function failure(cmdline: string): Error {
  try {
    parseBootedSlot(cmdline, '/proc/cmdline');
  } catch (error) {
    expect(isPendulumError(error, 'BOOTLOADER_FAILED')).toBe(true);
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('parseBootedSlot', () => {
  it.each([
    ['BOOT_IMAGE=/vmlinuz root=/dev/sda2 ro quiet pendulum.slot=B\n', 'B'],
    ['pendulum.slot=A', 'A'],
    ['console=ttyS0,115200   pendulum.slot=A\tinit=/sbin/init', 'A'],
    ['pendulum.slot="B" quiet', 'B'],
    ['"pendulum.slot=A"', 'A'],
    ['pendulum.slot=A rootwait pendulum.slot=A', 'A'],
  ])('reads the booted slot from %j', (cmdline, slot) => {
    expect(parseBootedSlot(cmdline, '/proc/cmdline')).toBe(slot);
  });

  it('does not mistake a look-alike parameter for the slot', () => {
    expect(failure('xpendulum.slot=A pendulum.slots=B').message).toBe(
      '/proc/cmdline: no pendulum.slot= on the kernel command line',
    );
  });

  it('names the source when the parameter is missing', () => {
    expect(failure('root=/dev/sda2 ro').message).toBe(
      '/proc/cmdline: no pendulum.slot= on the kernel command line',
    );
  });

  it('rejects a value that is not a slot', () => {
    expect(failure('pendulum.slot=C').message).toBe(
      '/proc/cmdline: pendulum.slot=C is not a slot name (A or B)',
    );
    expect(failure('pendulum.slot=a').message).toContain('is not a slot name');
    expect(failure('pendulum.slot=').message).toContain('is not a slot name');
  });

  it('refuses to guess between two different slots', () => {
    expect(failure('pendulum.slot=A pendulum.slot=B').message).toBe(
      '/proc/cmdline: conflicting pendulum.slot values: A, B',
    );
  });
});
