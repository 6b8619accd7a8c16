// Which slot the running system booted from, as the bootloader told the
// kernel: `pendulum.slot=A` on the kernel command line (/proc/cmdline).
import { readFile } from 'node:fs/promises';
import { errnoCode, PendulumError } from '../../errors.js';
import { isSlotName, type SlotName } from '../slots/slot.js';

// The kernel command-line parameter that names the booted slot.
export const slotParameter = 'pendulum.slot';

// parseBootedSlot reads the booted slot from a kernel command line; `source`
// names where the line came from in errors.
export function parseBootedSlot(cmdline: string, source: string): SlotName {
  const values = new Set<string>();
  for (const word of cmdline.trim().split(/\s+/)) {
    // The kernel accepts quotes around a whole parameter or around its value.
    const [key, ...rest] = word.replace(/^"(.*)"$/, '$1').split('=');
    if (key === slotParameter) values.add(rest.join('=').replace(/^"(.*)"$/, '$1'));
  }
  const fail = (why: string) =>
    new PendulumError('BOOTLOADER_FAILED', `${source}: ${why}`, { context: { file: source } });
  if (values.size === 0) throw fail(`no ${slotParameter}= on the kernel command line`);
  // Two different answers mean we cannot know which slot is running, and
  // guessing could mean overwriting it.
  if (values.size > 1) throw fail(`conflicting ${slotParameter} values: ${[...values].join(', ')}`);
  const [value] = values;
  if (!isSlotName(value)) throw fail(`${slotParameter}=${value} is not a slot name (A or B)`);
  return value;
}

// readBootedSlot reads the booted slot from the kernel command line in the
// file at `path` (/proc/cmdline on a device).
export async function readBootedSlot(path: string): Promise<SlotName> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PendulumError(
      'BOOTLOADER_FAILED',
      `cannot read ${path}: ${errnoCode(error) ?? 'I/O error'}`,
      { context: { file: path }, cause: error },
    );
  }
  return parseBootedSlot(text, path);
}

// formatCmdline is the kernel command line a bootloader passes to `slot`'s
// kernel; simulated firmware writes it where the agent reads /proc/cmdline.
export function formatCmdline(slot: SlotName): string {
  return `BOOT_IMAGE=/boot/vmlinuz root=PARTLABEL=rootfs-${slot} ro ${slotParameter}=${slot}\n`;
}
