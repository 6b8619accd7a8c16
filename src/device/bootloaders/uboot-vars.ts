// RAUC's boot-counting scheme for U-Boot, as variables of the U-Boot
// environment:
//
//   BOOT_ORDER="A B"          slots in try order
//   BOOT_A_LEFT, BOOT_B_LEFT  boots left before the boot script gives up on the slot
//   BOOT_MAX_TRY              ours: the boots a slot got when it was last armed
//                             or marked good, so that tries = MAX - LEFT
//
// At power-on the boot script picks the first slot in BOOT_ORDER with
// LEFT > 0, subtracts one from its LEFT, saves the environment (`env export
// -c`) and boots it. Pure: variables in, BootState out, and the variables each
// operation sets.
import { otherSlot, type SlotName, slotNames } from '../slots/slot.js';
import type { BootState } from './bootloader.js';
import { envReader } from './env-vars.js';

// readUBootState reads the boot-counting variables; a slot is bootable when
// it is in BOOT_ORDER with boots left. `source` names the environment in errors.
export function readUBootState(vars: ReadonlyMap<string, string>, source: string): BootState {
  const env = envReader(vars, source);
  const listed = env.order('BOOT_ORDER');
  const maxTries = env.count('BOOT_MAX_TRY', true);
  const slot = (s: SlotName) => {
    const left = env.count(`BOOT_${s}_LEFT`);
    // Marking the other slot good with fewer attempts than this one was armed
    // with leaves LEFT above MAX: no boots used.
    return { ok: left > 0 && listed.includes(s), tries: Math.max(0, maxTries - left) };
  };
  return {
    // A slot missing from BOOT_ORDER is never booted: last, and not ok.
    order: [...listed, ...slotNames.filter((s) => !listed.includes(s))],
    maxTries,
    slots: { A: slot('A'), B: slot('B') },
  };
}

// uBootFirst: `slot` first with `attempts` boots left (armed, or marked good
// with the configured attempts, so that a committed slot that stops
// confirming its boots falls back too).
export function uBootFirst(slot: SlotName, attempts: number): Map<string, string> {
  return new Map([
    ['BOOT_ORDER', `${slot} ${otherSlot(slot)}`],
    [`BOOT_${slot}_LEFT`, String(attempts)],
    ['BOOT_MAX_TRY', String(attempts)],
  ]);
}

// uBootBad: `slot` last with no boots left.
export function uBootBad(slot: SlotName): Map<string, string> {
  return new Map([
    ['BOOT_ORDER', `${otherSlot(slot)} ${slot}`],
    [`BOOT_${slot}_LEFT`, '0'],
  ]);
}

// uBootInitial: a factory-fresh device, `booted` good and first, the other
// slot never written and not bootable.
export function uBootInitial(booted: SlotName, attempts: number): Map<string, string> {
  return new Map([...uBootFirst(booted, attempts), [`BOOT_${otherSlot(booted)}_LEFT`, '0']]);
}
