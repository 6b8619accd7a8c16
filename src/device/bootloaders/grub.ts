// The GRUB backend: the boot-counting variables of grub-boot-vars.ts in the
// GRUB environment block grub.cfg loads and saves at every boot, read and
// written natively (in place, at its fixed size) or with grub-editenv; the
// booted slot is `pendulum.slot=` on the kernel command line.
import { runTool } from '../tools.js';
import { defineBackend } from './backend.js';
import type { Bootloader, BootState } from './bootloader.js';
import { readBootedSlot } from './cmdline.js';
import { changedVars, parseListing } from './env-vars.js';
import { armed, grubBootVars, markedBad, markedGood, readGrubBootState } from './grub-boot-vars.js';
import { checkGrubEnvFile, readGrubEnv, updateGrubEnv } from './grub-env.js';

// How the block is read and written: by our code, or by `grub-editenv`
// within a deadline.
export type GrubEnvAccess =
  | { readonly tool: 'native' }
  | { readonly tool: 'grub-editenv'; readonly timeoutMs: number };

export type GrubBootloaderOptions = GrubEnvAccess & {
  // The GRUB environment block file.
  readonly env: string;
  // The kernel command line: /proc/cmdline on a device.
  readonly cmdline: string;
};

type VarChange = (vars: ReadonlyMap<string, string>) => ReadonlyMap<string, string>;

interface EnvStore {
  read(): Promise<ReadonlyMap<string, string>>;
  // update sets the variables `change` returns, keeping the others.
  update(change: VarChange): Promise<void>;
}

// createGrubBootloader is the Bootloader over a GRUB environment block;
// `kind` names it in errors.
export function createGrubBootloader(options: GrubBootloaderOptions, kind = 'grub'): Bootloader {
  const { env } = options;
  const store: EnvStore =
    options.tool === 'native'
      ? { read: () => readGrubEnv(env), update: (change) => updateGrubEnv(env, change) }
      : editenvStore(env, options.timeoutMs);
  const change = (next: (state: BootState) => BootState) =>
    store.update((vars) => grubBootVars(next(readGrubBootState(vars, env))));
  return defineBackend({
    kind,
    booted: () => readBootedSlot(options.cmdline),
    state: async () => readGrubBootState(await store.read(), env),
    tryOnce: (slot, attempts) => change((state) => armed(state, slot, attempts)),
    markGood: (slot) => change((state) => markedGood(state, slot)),
    markBad: (slot) => change((state) => markedBad(state, slot)),
  });
}

// editenvStore reads with `grub-editenv FILE list` and writes every changed
// variable with one `grub-editenv FILE set K=V…`. The file is checked first:
// grub-editenv would create a missing one and accept one of any size.
function editenvStore(env: string, timeoutMs: number): EnvStore {
  const editenv = async (...args: string[]): Promise<string> => {
    await checkGrubEnvFile(env);
    return (await runTool(['grub-editenv', env, ...args], { timeoutMs })).stdout;
  };
  const read = async () => parseListing(await editenv('list'));
  return {
    read,
    async update(change) {
      const vars = await read();
      const updates = changedVars(vars, change(vars));
      if (updates.length > 0) await editenv('set', ...updates.map(([k, v]) => `${k}=${v}`));
    },
  };
}
