// The bootloader port, after RAUC's bootchooser contract: which slot booted,
// try a slot for a bounded number of boots, mark a slot good or bad.
import type { SlotName } from '../slots/slot.js';

export interface SlotBootState {
  // The bootloader may boot this slot at all.
  readonly ok: boolean;
  // Boots of this slot since it was last marked good or armed.
  readonly tries: number;
}

export interface BootState {
  // Slots in the order the bootloader tries them.
  readonly order: readonly SlotName[];
  readonly maxTries: number;
  readonly slots: Readonly<Record<SlotName, SlotBootState>>;
}

export interface Bootloader {
  readonly kind: string;
  // booted is the slot the running system was started from.
  booted(): Promise<SlotName>;
  // state is the bootloader's current view of both slots.
  state(): Promise<BootState>;
  // tryOnce makes `slot` boot next, for at most `attempts` boots without a
  // markGood; after that the bootloader falls back to the other slot.
  tryOnce(slot: SlotName, attempts: number): Promise<void>;
  // markGood makes `slot` the permanent first choice (commit).
  markGood(slot: SlotName): Promise<void>;
  // markBad makes `slot` unbootable; the other slot boots next.
  markBad(slot: SlotName): Promise<void>;
}
