// The U-Boot backend: the boot-counting variables of uboot-vars.ts in the
// U-Boot environment, through libubootenv's fw_printenv / fw_setenv and the
// fw_env.config naming where the environment lives — for a boot script that
// saves it with `env export -c` to a file on the boot partition, the line
// `/boot/uboot.env 0x0 0x4000`. The booted slot is `pendulum.slot=` on the
// kernel command line.
import { open, readFile } from 'node:fs/promises';
import { PendulumError } from '../../errors.js';
import type { SlotName } from '../slots/slot.js';
import { runTool } from '../tools.js';
import { bootloaderError, defineBackend } from './backend.js';
import type { Bootloader } from './bootloader.js';
import { readBootedSlot } from './cmdline.js';
import { changedVars, parseListing } from './env-vars.js';
import { readUBootState, uBootBad, uBootFirst, uBootInitial } from './uboot-vars.js';

export interface UBootBootloaderOptions {
  // The fw_env.config file: device or file, offset and size of the environment.
  readonly config: string;
  // The kernel command line: /proc/cmdline on a device.
  readonly cmdline: string;
  // Boots a slot gets when it is marked good.
  readonly attempts: number;
  // Deadline of each fw_printenv / fw_setenv run.
  readonly timeoutMs: number;
}

// libubootenv replaces a missing or corrupt (bad CRC) environment with a
// default file (/etc/u-boot-initial-env, or -f). Naming one that cannot exist
// makes that an error instead: the agent never takes defaults for the
// bootloader's state, nor writes them over it. Only initUBootEnv starts afresh.
const noDefaultEnv = '/dev/null/no-default-environment';

// The most boots a slot gets: U-Boot's `setexpr`, which the boot script
// counts with, reads hexadecimal, so the count stays one digit (0-9). A trial
// asking for more (a manifest may ask up to 16) gets this many.
export const uBootMaxAttempts = 9;

// createUBootBootloader is the Bootloader over the U-Boot environment.
export function createUBootBootloader(options: UBootBootloaderOptions): Bootloader {
  const { config, timeoutMs } = options;
  const fw = (tool: 'fw_printenv' | 'fw_setenv', args: readonly string[]) =>
    runTool([tool, '-c', config, '-f', noDefaultEnv, ...args], { timeoutMs });
  const read = async () => parseListing((await fw('fw_printenv', [])).stdout);
  // set writes every changed variable in one fw_setenv run: libubootenv
  // rewrites the whole environment under one CRC, so U-Boot sees all of the
  // change or a bad CRC, never half of it.
  const set = async (changes: ReadonlyMap<string, string>) => {
    const vars = await read();
    // A malformed environment is refused, not patched.
    readUBootState(vars, config);
    const updates = changedVars(vars, changes);
    if (updates.length > 0) await fw('fw_setenv', updates.flat());
  };
  return defineBackend({
    kind: 'u-boot',
    booted: () => readBootedSlot(options.cmdline),
    state: async () => readUBootState(await read(), config),
    tryOnce: (slot, attempts) => set(uBootFirst(slot, Math.min(attempts, uBootMaxAttempts))),
    markGood: (slot) => set(uBootFirst(slot, options.attempts)),
    markBad: (slot) => set(uBootBad(slot)),
  });
}

export interface InitUBootEnvOptions {
  readonly config: string;
  // The slot the device boots first; the other is not bootable.
  readonly booted: SlotName;
  readonly attempts: number;
  readonly timeoutMs: number;
}

// initUBootEnv writes a factory-fresh environment (uBootInitial) for a disk
// image or a test: the one place a missing or corrupt environment is started
// afresh (`-f /dev/null`, an empty default). A valid environment keeps its
// other variables. A missing environment file is created.
export async function initUBootEnv(options: InitUBootEnvOptions): Promise<void> {
  const { config } = options;
  try {
    const device = await environmentDevice(config);
    if (!device.startsWith('/dev/')) await (await open(device, 'a')).close();
    const vars = [...uBootInitial(options.booted, options.attempts)].flat();
    await runTool(['fw_setenv', '-c', config, '-f', '/dev/null', ...vars], {
      timeoutMs: options.timeoutMs,
    });
  } catch (error) {
    throw bootloaderError('u-boot', error);
  }
}

// environmentDevice is the first device or file fw_env.config names.
async function environmentDevice(config: string): Promise<string> {
  const lines = (await readFile(config, 'utf8')).split('\n').map((line) => line.trim());
  const device = lines.find((line) => line !== '' && !line.startsWith('#'))?.split(/\s+/)[0];
  if (device === undefined) {
    throw new PendulumError('BOOTLOADER_FAILED', `${config} names no environment`, {
      context: { file: config },
    });
  }
  return device;
}
