// A bootloader in two files, for tests and demos: the GRUB backend's
// boot-counting variables in a real GRUB environment block (so grub-editenv
// can read it), and a file that plays /proc/cmdline. simulateBoot is the
// power-on, making grub.cfg's choice (grub-boot-vars.ts).
import { invariant, PendulumError } from '../../errors.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { otherSlot, type SlotName, slotNames } from '../slots/slot.js';
import type { Bootloader, BootState } from './bootloader.js';
import { formatCmdline } from './cmdline.js';
import { createGrubBootloader } from './grub.js';
import { grubBootChoice, grubBootVars, readGrubBootState } from './grub-boot-vars.js';
import { updateGrubEnv, writeGrubEnv } from './grub-env.js';

export interface SimulatedBootloaderPaths {
  // The GRUB environment block file.
  readonly envPath: string;
  // The file that plays /proc/cmdline.
  readonly cmdlinePath: string;
}

// createSimulatedBootloader is the Bootloader over an env block and a cmdline file.
export function createSimulatedBootloader(paths: SimulatedBootloaderPaths): Bootloader {
  return createGrubBootloader(
    { tool: 'native', env: paths.envPath, cmdline: paths.cmdlinePath },
    'simulated',
  );
}

// initSimulatedBootloader sets up a factory-fresh device: `booted` is good and
// running, the other slot has never been written and is not bootable.
export async function initSimulatedBootloader(
  options: SimulatedBootloaderPaths & { readonly booted: SlotName; readonly maxTries: number },
): Promise<void> {
  const { booted, maxTries } = options;
  invariant(
    Number.isInteger(maxTries) && maxTries >= 1,
    `maxTries must be a positive integer, got ${maxTries}`,
  );
  const state: BootState = {
    order: [booted, otherSlot(booted)],
    maxTries,
    slots: { A: { ok: booted === 'A', tries: 0 }, B: { ok: booted === 'B', tries: 0 } },
  };
  await writeGrubEnv(options.envPath, grubBootVars(state));
  await writeFileAtomic(options.cmdlinePath, formatCmdline(booted));
}

// simulateBoot is a power-on: grub.cfg's choice gets one more try and boots;
// no slot left to boot is a bricked device.
export async function simulateBoot(paths: SimulatedBootloaderPaths): Promise<SlotName> {
  let booted: SlotName | undefined;
  // The count is saved before the kernel starts, as GRUB's save_env does, so a
  // crash during this boot still counts as a try.
  await updateGrubEnv(paths.envPath, (vars) => {
    const state = readGrubBootState(vars, paths.envPath);
    const choice = grubBootChoice(state);
    if (choice === undefined) throw noBootableSlot(paths.envPath, state);
    booted = choice.slot;
    return grubBootVars(choice.saved);
  });
  invariant(booted !== undefined, 'simulateBoot chose no slot');
  await writeFileAtomic(paths.cmdlinePath, formatCmdline(booted));
  return booted;
}

function noBootableSlot(envPath: string, state: BootState): PendulumError {
  const slots = slotNames.map(
    (s) => `${s}_OK=${Number(state.slots[s].ok)} ${s}_TRY=${state.slots[s].tries}`,
  );
  return new PendulumError(
    'BOOTLOADER_FAILED',
    `no bootable slot in ${envPath} (ORDER="${state.order.join(' ')}" ${slots.join(' ')} MAX_TRY=${state.maxTries})`,
    { context: { file: envPath } },
  );
}
