// The EFI backend: each slot is a UEFI boot entry, changed with efibootmgr.
// tryOnce sets BootNext, which the firmware boots once and deletes — so a
// trial is one boot whatever the attempts, and any restart during it boots
// BootOrder's first entry, the old slot. markGood puts the slot's entry first
// in BootOrder; markBad takes it out of BootOrder, so the firmware never falls
// through to it. The booted slot is BootCurrent.
import { PendulumError } from '../../errors.js';
import { type SlotName, slotNames } from '../slots/slot.js';
import { runTool } from '../tools.js';
import { defineBackend } from './backend.js';
import type { Bootloader } from './bootloader.js';
import {
  type EfiBootVars,
  efiBootState,
  parseEfibootmgr,
  type SlotEntries,
  slotOfEntry,
} from './efi-boot-entries.js';

export interface EfiBootloaderOptions {
  // The boot entry (four hex digits, Boot####) of each slot.
  readonly entries: SlotEntries;
  // Deadline of each efibootmgr run.
  readonly timeoutMs: number;
}

// createEfiBootloader is the Bootloader over the UEFI boot manager.
export function createEfiBootloader(options: EfiBootloaderOptions): Bootloader {
  const entries: SlotEntries = {
    A: options.entries.A.toUpperCase(),
    B: options.entries.B.toUpperCase(),
  };
  const ours = new Set(Object.values(entries));
  const efibootmgr = async (...args: string[]) =>
    (await runTool(['efibootmgr', ...args], { timeoutMs: options.timeoutMs })).stdout;
  const read = async () => parseEfibootmgr(await efibootmgr());
  // activate makes sure the slot's entry exists and is active.
  const activate = async (vars: EfiBootVars, slot: SlotName) => {
    const entry = vars.entries.get(entries[slot]);
    if (entry === undefined) throw missingEntry(slot, entries[slot]);
    if (!entry.active) await efibootmgr('-b', entries[slot], '-a');
  };
  // setOrder writes BootOrder; efibootmgr refuses entries that do not exist,
  // so stale ones are dropped.
  const setOrder = async (vars: EfiBootVars, order: readonly string[]) => {
    const existing = order.filter((id) => vars.entries.has(id));
    if (existing.join(',') === vars.order.join(',')) return;
    await (existing.length > 0 ? efibootmgr('-o', existing.join(',')) : efibootmgr('-O'));
  };
  return defineBackend({
    kind: 'efi',
    async booted() {
      const { current } = await read();
      const slot = slotOfEntry(entries, current);
      if (slot !== undefined) return slot;
      const slots = slotNames.map((s) => `slot ${s}'s ${entries[s]}`).join(' nor ');
      throw new PendulumError(
        'BOOTLOADER_FAILED',
        current === undefined
          ? 'efibootmgr shows no BootCurrent'
          : `booted from boot entry ${current}, which is neither ${slots}`,
        { context: { entry: current } },
      );
    },
    state: async () => efiBootState(await read(), entries),
    async tryOnce(slot) {
      const vars = await read();
      await activate(vars, slot);
      if (vars.next !== entries[slot]) await efibootmgr('-n', entries[slot]);
    },
    async markGood(slot) {
      const vars = await read();
      await activate(vars, slot);
      // BootOrder first: until BootNext is gone it may still name the slot.
      await setOrder(vars, [entries[slot], ...vars.order.filter((id) => id !== entries[slot])]);
      if (vars.next !== undefined && ours.has(vars.next)) await efibootmgr('-N');
    },
    async markBad(slot) {
      const vars = await read();
      // BootNext first: the firmware must not boot the slot even once more.
      if (vars.next === entries[slot]) await efibootmgr('-N');
      await setOrder(
        vars,
        vars.order.filter((id) => id !== entries[slot]),
      );
    },
  });
}

function missingEntry(slot: SlotName, id: string): PendulumError {
  return new PendulumError(
    'BOOTLOADER_FAILED',
    `boot entry ${id} for slot ${slot} does not exist (efibootmgr lists no Boot${id})`,
    { context: { entry: id, slot } },
  );
}
