// The UEFI boot manager's variables as efibootmgr prints them, and what they
// mean for the slots. Each slot is a boot entry (Boot####). A trial is
// BootNext, which the firmware deletes when it boots it: one boot, whatever
// the attempts. A slot boots by default when its entry is in BootOrder and
// active (`*`); the firmware takes the first that loads. Pure.
import { otherSlot, type SlotName, slotNames } from '../slots/slot.js';
import type { BootState } from './bootloader.js';

export interface EfiBootEntry {
  // The firmware may boot it (LOAD_OPTION_ACTIVE, `*` after the number).
  readonly active: boolean;
  readonly label: string;
}

// Boot entry numbers are four upper-case hex digits, as efibootmgr prints them.
export interface EfiBootVars {
  readonly current: string | undefined;
  readonly next: string | undefined;
  readonly order: readonly string[];
  readonly entries: ReadonlyMap<string, EfiBootEntry>;
}

// The boot entry of each slot.
export type SlotEntries = Readonly<Record<SlotName, string>>;

// parseEfibootmgr reads what `efibootmgr` prints:
//   BootCurrent: 0001 / BootNext: 0002 / BootOrder: 0001,0002
//   Boot0001* pendulum A<TAB>HD(…)   (no `*`: inactive)
export function parseEfibootmgr(text: string): EfiBootVars {
  let current: string | undefined;
  let next: string | undefined;
  let order: string[] = [];
  const entries = new Map<string, EfiBootEntry>();
  for (const line of text.split('\n')) {
    const variable = /^Boot(Current|Next|Order):\s*(\S*)/.exec(line);
    const entry = /^Boot([0-9A-Fa-f]{4})(\*?)\s?([^\t]*)/.exec(line);
    if (variable?.[1] === 'Current') current = variable[2]?.toUpperCase();
    else if (variable?.[1] === 'Next') next = variable[2]?.toUpperCase();
    else if (variable?.[1] === 'Order')
      order = (variable[2] ?? '')
        .split(',')
        .filter((id) => id !== '')
        .map((id) => id.toUpperCase());
    else if (entry?.[1] !== undefined)
      entries.set(entry[1].toUpperCase(), {
        active: entry[2] === '*',
        label: (entry[3] ?? '').trim(),
      });
  }
  return { current, next, order, entries };
}

// slotOfEntry is the slot whose entry `id` is, if any.
export function slotOfEntry(entries: SlotEntries, id: string | undefined): SlotName | undefined {
  return slotNames.find((s) => entries[s] === id);
}

// efiBootState maps the boot manager's variables onto the bootchooser's view:
// BootNext on a slot is a pending trial (first, ok, 0 of 1 tries); otherwise
// slots go in BootOrder's order, and one whose entry is not in BootOrder or
// not active is not bootable. There is no boot counting: tries stay 0.
export function efiBootState(vars: EfiBootVars, entries: SlotEntries): BootState {
  const trial = slotOfEntry(entries, vars.next);
  const position = (s: SlotName) => {
    const at = vars.order.indexOf(entries[s]);
    return at < 0 ? Number.POSITIVE_INFINITY : at;
  };
  const order =
    trial !== undefined
      ? [trial, otherSlot(trial)]
      : [...slotNames].sort((a, b) => position(a) - position(b));
  const slot = (s: SlotName) => ({
    ok:
      vars.entries.get(entries[s])?.active === true &&
      (s === trial || position(s) < Number.POSITIVE_INFINITY),
    tries: 0,
  });
  return { order, maxTries: 1, slots: { A: slot('A'), B: slot('B') } };
}
