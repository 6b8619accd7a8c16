// Which slot the running system booted from, as the bootloader told the
// kernel: `pendulum.slot=A` on the kernel command line (/proc/cmdline).
import { PendulumError } from '../../errors.js';
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
