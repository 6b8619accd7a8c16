// Reading the bootloader's state the way the agent needs it.
import type { BootState } from './bootloaders/bootloader.js';
import type { SlotName } from './slots/slot.js';

// isTrialPending: `slot` is armed and the bootloader will still try it.
export function isTrialPending(state: BootState, slot: SlotName): boolean {
  return (
    state.order[0] === slot && state.slots[slot].ok && state.slots[slot].tries < state.maxTries
  );
}

// needsMarkGood: the running committed slot is not yet the bootloader's settled first choice.
export function needsMarkGood(state: BootState, slot: SlotName): boolean {
  return state.order[0] !== slot || !state.slots[slot].ok || state.slots[slot].tries > 0;
}
