// Power-on for the bootloaders that have no simulator in src: what the U-Boot
// boot script and the UEFI boot manager do at each boot, played on the state
// the agent's tools read — the fake tools' JSON files, or the real formats
// (uboot-env-image.ts, efivarfs.ts). GRUB's is simulateBoot in src.
import { readFile, writeFile } from 'node:fs/promises';
import { formatCmdline } from '../../src/device/bootloaders/cmdline.js';
import { isSlotName, type SlotName } from '../../src/device/slots/slot.js';

// A place firmware state lives, in one of its formats.
export interface Store<T> {
  read(): Promise<T>;
  write(value: T): Promise<void>;
}

// jsonStore keeps a value as JSON in `path`, as the fake tools do.
export function jsonStore<T>(path: string): Store<T> {
  return {
    read: async () => JSON.parse(await readFile(path, 'utf8')) as T,
    write: (value) => writeFile(path, JSON.stringify(value)),
  };
}

export type UBootVars = Record<string, string>;

// uBootPowerOn is the boot script: the first slot in BOOT_ORDER with
// BOOT_<slot>_LEFT > 0 gets one boot less, the environment is saved (env
// export -c), and its kernel starts with pendulum.slot=<slot> in `cmdline`.
export async function uBootPowerOn(env: Store<UBootVars>, cmdline: string): Promise<SlotName> {
  const vars = await env.read();
  const order = (vars.BOOT_ORDER ?? '').trim().split(/\s+/).filter(isSlotName);
  const slot = order.find((s) => Number(vars[`BOOT_${s}_LEFT`] ?? '0') > 0);
  if (slot === undefined) throw new Error(`U-Boot: no slot to boot in ${JSON.stringify(vars)}`);
  vars[`BOOT_${slot}_LEFT`] = String(Number(vars[`BOOT_${slot}_LEFT`]) - 1);
  await env.write(vars);
  await writeFile(cmdline, formatCmdline(slot));
  return slot;
}

// The boot manager's variables: entries are four upper-case hex digits.
export interface EfiNvram {
  current?: string;
  next?: string;
  order: string[];
  entries: Record<string, { label: string; active: boolean }>;
}

// efiPowerOn is the UEFI boot manager: BootNext is deleted and booted once;
// without it, the first active entry in BootOrder boots. BootCurrent names
// the entry booted, which is returned.
export async function efiPowerOn(nvram: Store<EfiNvram>): Promise<string> {
  const vars = await nvram.read();
  const next = vars.next;
  const entry = next ?? vars.order.find((id) => vars.entries[id]?.active === true);
  if (entry === undefined) throw new Error(`UEFI: nothing to boot in ${JSON.stringify(vars)}`);
  const { next: _, ...rest } = vars;
  await nvram.write({ ...rest, current: entry });
  return entry;
}
