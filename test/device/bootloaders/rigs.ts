// Devices for the bootloader backend tests: a factory-fresh bootloader (slot
// A good and booted, slot B never written) and the firmware that powers it
// on, for each backend and each way of reaching its state — the fake tools,
// or the real tools on the real formats. Each in a new directory under `root`.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { vi } from 'vitest';
import { createEfiBootloader } from '../../../src/device/bootloaders/efi.js';
import { createGrubBootloader, type GrubEnvAccess } from '../../../src/device/bootloaders/grub.js';
import {
  initSimulatedBootloader,
  simulateBoot,
} from '../../../src/device/bootloaders/simulated.js';
import { createUBootBootloader, initUBootEnv } from '../../../src/device/bootloaders/uboot.js';
import { type SlotName, slotNames } from '../../../src/device/slots/slot.js';
import {
  type EfiNvram,
  efiPowerOn,
  jsonStore,
  type Store,
  type UBootVars,
  uBootPowerOn,
} from '../../support/boot-firmware.js';
import { efivarsEnv, readEfiVars, writeEfiVars } from '../../support/efivarfs.js';
import { uBootImageStore } from '../../support/uboot-env-image.js';
import type { BootRig } from './harness.js';

const timeoutMs = 10_000;

export interface GrubRig extends BootRig {
  readonly envPath: string;
  readonly cmdlinePath: string;
}

// grubRig: MAX_TRY=3, the backend using `access`, grub.cfg's logic as firmware.
export async function grubRig(root: string, access: GrubEnvAccess): Promise<GrubRig> {
  const dir = await mkdtemp(join(root, 'grub-'));
  const paths = { envPath: join(dir, 'grubenv'), cmdlinePath: join(dir, 'cmdline') };
  await initSimulatedBootloader({ ...paths, booted: 'A', maxTries: 3 });
  const bootloader = createGrubBootloader({
    ...access,
    env: paths.envPath,
    cmdline: paths.cmdlinePath,
  });
  return { ...paths, bootloader, powerOn: () => simulateBoot(paths) };
}

// The environment size fw_env.config gives, as the boot script's `env export -c -s`.
export const uBootEnvSize = 0x4000;
// Boots a committed slot gets (the backend's `attempts`).
export const uBootAttempts = 2;

export interface UBootRig extends BootRig {
  readonly env: string;
  readonly config: string;
  readonly cmdline: string;
  readonly store: Store<UBootVars>;
}

// uBootRig: initUBootEnv'd, the environment the fake tools' JSON file or a real
// checksum-protected image, the boot script as firmware.
export async function uBootRig(root: string, format: 'fake' | 'image'): Promise<UBootRig> {
  const dir = await mkdtemp(join(root, 'uboot-'));
  const env = join(dir, 'uboot.env');
  const config = join(dir, 'fw_env.config');
  const cmdline = join(dir, 'cmdline');
  await writeFile(
    config,
    `# environment file on the boot partition\n${env} 0x0 0x${uBootEnvSize.toString(16)}\n`,
  );
  await writeFile(cmdline, 'pendulum.slot=A\n');
  await initUBootEnv({ config, booted: 'A', attempts: uBootAttempts, timeoutMs });
  const store = format === 'fake' ? jsonStore<UBootVars>(env) : uBootImageStore(env, uBootEnvSize);
  const bootloader = createUBootBootloader({ config, cmdline, attempts: uBootAttempts, timeoutMs });
  return { env, config, cmdline, store, bootloader, powerOn: () => uBootPowerOn(store, cmdline) };
}

export const efiEntries = { A: '0001', B: '0002' } as const;

// efiFactory: booted from slot A's entry; B's entry exists but is in no
// BootOrder (never written); the firmware's own entry last.
export function efiFactory(): EfiNvram {
  return {
    current: efiEntries.A,
    order: [efiEntries.A, '0000'],
    entries: {
      '0000': { label: 'UiApp', active: true },
      [efiEntries.A]: { label: 'pendulum A', active: true },
      [efiEntries.B]: { label: 'pendulum B', active: true },
    },
  };
}

export interface EfiRig extends BootRig {
  readonly store: Store<EfiNvram>;
}

// efiRig: the boot manager's variables in the fake efibootmgr's JSON file or,
// for the real efibootmgr, in efivarfs files (the environment variables naming
// them are stubbed, so one EFI rig is live at a time); the UEFI boot manager
// as firmware.
export async function efiRig(
  root: string,
  format: 'fake' | 'efivarfs',
  nvram: EfiNvram = efiFactory(),
): Promise<EfiRig> {
  const dir = await mkdtemp(join(root, 'efi-'));
  let store: Store<EfiNvram>;
  if (format === 'fake') {
    vi.stubEnv('FAKE_EFI_NVRAM', join(dir, 'nvram.json'));
    store = jsonStore(join(dir, 'nvram.json'));
  } else {
    const vars = join(dir, 'efivars');
    await mkdir(vars);
    for (const [name, value] of Object.entries(efivarsEnv(vars))) vi.stubEnv(name, value);
    store = { read: () => readEfiVars(vars), write: (value) => writeEfiVars(vars, value) };
  }
  await store.write(nvram);
  const slotOf = (entry: string): SlotName => {
    const slot = slotNames.find((s) => efiEntries[s] === entry);
    if (slot === undefined) throw new Error(`the firmware booted entry ${entry}, which is no slot`);
    return slot;
  };
  return {
    store,
    bootloader: createEfiBootloader({ entries: efiEntries, timeoutMs }),
    powerOn: async () => slotOf(await efiPowerOn(store)),
  };
}
