// RAUC's boot-counting scheme for GRUB, as variables of the environment block
// that grub.cfg loads and saves at every boot:
//
//   ORDER="A B"  slots in try order     A_OK, B_OK    1 bootable, 0 marked bad
//   MAX_TRY=N    boots allowed per slot A_TRY, B_TRY  boots since marked good or armed
//
// At power-on grub.cfg picks the first slot in ORDER with <slot>_OK=1 and
// <slot>_TRY < MAX_TRY, adds one to its <slot>_TRY, save_env, and boots it.
// Pure: variables in, BootState out, and back.
import { otherSlot, type SlotName, slotNames } from '../slots/slot.js';
import type { BootState, SlotBootState } from './bootloader.js';
import { envReader } from './env-vars.js';

// readGrubBootState reads the boot-counting variables; `source` names the
// block in errors.
export function readGrubBootState(vars: ReadonlyMap<string, string>, source: string): BootState {
  const env = envReader(vars, source);
  const slot = (s: SlotName): SlotBootState => ({
    ok: env.text(`${s}_OK`, /^[01]$/, '0 or 1') === '1',
    tries: env.count(`${s}_TRY`),
  });
  return {
    order: env.order('ORDER'),
    maxTries: env.count('MAX_TRY', true),
    slots: { A: slot('A'), B: slot('B') },
  };
}

// grubBootVars is `state` as the variables grub.cfg reads.
export function grubBootVars(state: BootState): Map<string, string> {
  const vars = new Map([
    ['ORDER', state.order.join(' ')],
    ['MAX_TRY', String(state.maxTries)],
  ]);
  for (const s of slotNames) {
    vars.set(`${s}_OK`, state.slots[s].ok ? '1' : '0');
    vars.set(`${s}_TRY`, String(state.slots[s].tries));
  }
  return vars;
}

// armed: `slot` first, bootable, with `attempts` boots to confirm itself.
export function armed(state: BootState, slot: SlotName, attempts: number): BootState {
  return { ...withSlot(state, slot, true, [slot, otherSlot(slot)]), maxTries: attempts };
}

// markedGood: `slot` first, bootable, its boot count reset.
export function markedGood(state: BootState, slot: SlotName): BootState {
  return withSlot(state, slot, true, [slot, otherSlot(slot)]);
}

// markedBad: `slot` last and never booted.
export function markedBad(state: BootState, slot: SlotName): BootState {
  return withSlot(state, slot, false, [otherSlot(slot), slot]);
}

// grubBootChoice is grub.cfg's choice at power-on: the slot it boots and the
// state it saves before booting, or undefined when no slot may boot.
export function grubBootChoice(state: BootState): { slot: SlotName; saved: BootState } | undefined {
  const slot = state.order.find((s) => state.slots[s].ok && state.slots[s].tries < state.maxTries);
  if (slot === undefined) return undefined;
  const counted = { ok: true, tries: state.slots[slot].tries + 1 };
  return { slot, saved: { ...state, slots: { ...state.slots, [slot]: counted } } };
}

function withSlot(state: BootState, slot: SlotName, ok: boolean, order: SlotName[]): BootState {
  return { ...state, order, slots: { ...state.slots, [slot]: { ok, tries: 0 } } };
}
