// A bootloader in two files, for tests and demos: a real GRUB environment
// block holding RAUC-style boot-counting variables (so grub-editenv can read
// it), and a file that plays /proc/cmdline. simulateBoot is the power-on.
//
//   ORDER="A B"  slots in try order     A_OK, B_OK    1 bootable, 0 marked bad
//   MAX_TRY=N    boots allowed per slot A_TRY, B_TRY  boots since marked good or armed
import { readFile } from 'node:fs/promises';
import { errnoCode, invariant, PendulumError } from '../../errors.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { otherSlot, type SlotName, slotNames } from '../slots/slot.js';
import type { Bootloader, BootState } from './bootloader.js';
import { parseBootedSlot, slotParameter } from './cmdline.js';
import { readGrubEnv, writeGrubEnv } from './grub-env.js';

export interface SimulatedBootloaderPaths {
  // The GRUB environment block file.
  readonly envPath: string;
  // The file that plays /proc/cmdline.
  readonly cmdlinePath: string;
}

interface MutableBootState {
  order: SlotName[];
  maxTries: number;
  slots: Record<SlotName, { ok: boolean; tries: number }>;
}

// createSimulatedBootloader is the Bootloader over an env block and a cmdline file.
export function createSimulatedBootloader(paths: SimulatedBootloaderPaths): Bootloader {
  const { envPath } = paths;
  return {
    kind: 'simulated',
    booted: () => readBootedSlot(paths.cmdlinePath),
    state: async (): Promise<BootState> => (await readState(envPath)).state,
    async tryOnce(slot, attempts) {
      invariant(
        Number.isInteger(attempts) && attempts >= 1,
        `boot attempts must be a positive integer, got ${attempts}`,
      );
      await update(envPath, (state) => {
        state.slots[slot] = { ok: true, tries: 0 };
        state.maxTries = attempts;
        state.order = [slot, otherSlot(slot)];
      });
    },
    markGood: (slot) =>
      update(envPath, (state) => {
        state.slots[slot] = { ok: true, tries: 0 };
        state.order = [slot, otherSlot(slot)];
      }),
    markBad: (slot) =>
      update(envPath, (state) => {
        state.slots[slot] = { ok: false, tries: 0 };
        state.order = [otherSlot(slot), slot];
      }),
  };
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
  const state: MutableBootState = {
    order: [booted, otherSlot(booted)],
    maxTries,
    slots: { A: { ok: booted === 'A', tries: 0 }, B: { ok: booted === 'B', tries: 0 } },
  };
  await writeGrubEnv(options.envPath, toVars(new Map(), state));
  await writeCmdline(options.cmdlinePath, booted);
}

// simulateBoot is a power-on: the first slot in ORDER that is OK and has
// boots left gets one more try and boots; none left is a bricked device.
export async function simulateBoot(paths: SimulatedBootloaderPaths): Promise<SlotName> {
  const { vars, state } = await readState(paths.envPath);
  const slot = state.order.find((s) => state.slots[s].ok && state.slots[s].tries < state.maxTries);
  if (slot === undefined) {
    const slots = slotNames.map(
      (s) => `${s}_OK=${Number(state.slots[s].ok)} ${s}_TRY=${state.slots[s].tries}`,
    );
    throw new PendulumError(
      'BOOTLOADER_FAILED',
      `no bootable slot in ${paths.envPath} (ORDER="${state.order.join(' ')}" ${slots.join(' ')} MAX_TRY=${state.maxTries})`,
      { context: { file: paths.envPath } },
    );
  }
  state.slots[slot].tries += 1;
  // The count is saved before the kernel starts, as GRUB's save_env does, so a
  // crash during this boot still counts as a try.
  await writeGrubEnv(paths.envPath, toVars(vars, state));
  await writeCmdline(paths.cmdlinePath, slot);
  return slot;
}

async function readBootedSlot(cmdlinePath: string): Promise<SlotName> {
  let text: string;
  try {
    text = await readFile(cmdlinePath, 'utf8');
  } catch (error) {
    throw new PendulumError(
      'BOOTLOADER_FAILED',
      `cannot read ${cmdlinePath}: ${errnoCode(error) ?? 'I/O error'}`,
      {
        context: { file: cmdlinePath },
        cause: error,
      },
    );
  }
  return parseBootedSlot(text, cmdlinePath);
}

async function writeCmdline(cmdlinePath: string, slot: SlotName): Promise<void> {
  await writeFileAtomic(
    cmdlinePath,
    `BOOT_IMAGE=/boot/vmlinuz root=PARTLABEL=rootfs-${slot} ro ${slotParameter}=${slot}\n`,
  );
}

async function update(envPath: string, change: (state: MutableBootState) => void): Promise<void> {
  const { vars, state } = await readState(envPath);
  change(state);
  await writeGrubEnv(envPath, toVars(vars, state));
}

// readState parses the boot-counting variables; other variables in the block
// are kept as they are.
async function readState(
  envPath: string,
): Promise<{ vars: Map<string, string>; state: MutableBootState }> {
  const vars = await readGrubEnv(envPath);
  const get = (name: string, pattern: RegExp, expected: string): string => {
    const value = vars.get(name);
    if (value === undefined || !pattern.test(value)) {
      throw malformed(envPath, name, value, expected);
    }
    return value;
  };
  const order = get('ORDER', /^\s*[AB](\s+[AB])?\s*$/, 'slots in try order such as "A B"')
    .trim()
    .split(/\s+/);
  if (order[0] === order[1]) {
    throw malformed(envPath, 'ORDER', vars.get('ORDER'), 'each slot at most once');
  }
  const slot = (s: SlotName) => ({
    ok: get(`${s}_OK`, /^[01]$/, '0 or 1') === '1',
    tries: Number(get(`${s}_TRY`, /^\d{1,6}$/, 'a boot count')),
  });
  return {
    vars,
    state: {
      order: order as SlotName[],
      maxTries: Number(get('MAX_TRY', /^[1-9]\d{0,5}$/, 'a positive boot count')),
      slots: { A: slot('A'), B: slot('B') },
    },
  };
}

function malformed(
  envPath: string,
  name: string,
  value: string | undefined,
  expected: string,
): PendulumError {
  const found = value === undefined ? 'is missing' : `is ${JSON.stringify(value)}`;
  return new PendulumError(
    'BOOTLOADER_FAILED',
    `${envPath}: ${name} ${found}, expected ${expected}`,
    {
      context: { file: envPath, variable: name },
    },
  );
}

function toVars(vars: Map<string, string>, state: MutableBootState): Map<string, string> {
  vars.set('ORDER', state.order.join(' '));
  vars.set('MAX_TRY', String(state.maxTries));
  for (const s of slotNames) {
    vars.set(`${s}_OK`, state.slots[s].ok ? '1' : '0');
    vars.set(`${s}_TRY`, String(state.slots[s].tries));
  }
  return vars;
}
