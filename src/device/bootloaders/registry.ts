// Bootloader backends by configured type: adding a backend is one entry here.
import { PendulumError } from '../../errors.js';
import type { SlotName } from '../slots/slot.js';
import type { Bootloader } from './bootloader.js';
import { createEfiBootloader } from './efi.js';
import { createGrubBootloader } from './grub.js';
import { createSimulatedBootloader } from './simulated.js';
import { createUBootBootloader } from './uboot.js';

// The configuration of each bootloader type, keyed by its `type`; `timeout`
// is in milliseconds. README "Agent configuration" documents each.
export interface BootloaderConfigs {
  // `env`: the GRUB environment block file; `cmdline`: the file playing /proc/cmdline.
  simulated: { readonly env: string; readonly cmdline: string };
  grub: {
    readonly env: string;
    readonly tool: 'native' | 'grub-editenv';
    readonly cmdline: string;
    readonly timeout: number;
  };
  'u-boot': {
    readonly config: string;
    readonly cmdline: string;
    readonly attempts: number;
    readonly timeout: number;
  };
  efi: { readonly entries: Readonly<Record<SlotName, string>>; readonly timeout: number };
}

export type BootloaderType = keyof BootloaderConfigs;
export type BootloaderConfig = {
  [K in BootloaderType]: { readonly type: K } & BootloaderConfigs[K];
}[BootloaderType];

const factories: { readonly [K in BootloaderType]: (config: BootloaderConfigs[K]) => Bootloader } =
  {
    simulated: (config) =>
      createSimulatedBootloader({ envPath: config.env, cmdlinePath: config.cmdline }),
    grub: ({ env, cmdline, tool, timeout }) =>
      createGrubBootloader(
        tool === 'native' ? { tool, env, cmdline } : { tool, timeoutMs: timeout, env, cmdline },
      ),
    'u-boot': ({ config, cmdline, attempts, timeout }) =>
      createUBootBootloader({ config, cmdline, attempts, timeoutMs: timeout }),
    efi: ({ entries, timeout }) => createEfiBootloader({ entries, timeoutMs: timeout }),
  };

// bootloaderTypes lists the bootloader types this build knows.
export const bootloaderTypes = Object.keys(factories) as BootloaderType[];

// createBootloader builds the bootloader from its configuration; an unknown
// type is CONFIG_INVALID, since configuration is read at run time.
export function createBootloader(config: BootloaderConfig): Bootloader {
  const type: string = config.type;
  if (!Object.hasOwn(factories, type)) {
    throw new PendulumError(
      'CONFIG_INVALID',
      `unknown bootloader type "${type}" (known: ${bootloaderTypes.join(', ')})`,
      {
        context: { type },
      },
    );
  }
  const factory = factories[config.type] as (config: BootloaderConfig) => Bootloader;
  return factory(config);
}
