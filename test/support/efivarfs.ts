// The UEFI boot manager's variables as files in efivarfs's format (a 4-byte
// attribute word, then the value), in a directory the real efibootmgr uses
// instead of /sys/firmware/efi/efivars when run with LIBEFIVAR_OPS=efivarfs
// and EFIVARFS_PATH=<dir>/ (libefivar 37). Lets tests play the firmware
// against the real tool on a machine without UEFI.
import { execFileSync } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakeTools } from '../fakes/fake-tool.js';
import type { EfiNvram } from './boot-firmware.js';

const globalGuid = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
// EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS
const attributes = 7;
const loadOptionActive = 1;
// A device path holding only its end node.
const endOfPath = Buffer.from([0x7f, 0xff, 0x04, 0x00]);

// efivarsEnv is the environment that points efibootmgr at `dir`.
export function efivarsEnv(dir: string): Record<string, string> {
  return { LIBEFIVAR_OPS: 'efivarfs', EFIVARFS_PATH: `${dir}/` };
}

// addEfivarfsEfibootmgr puts a wrapper of the real efibootmgr into `tools`.
// In efivarfs every write replaces the whole variable, so libefivar opens a
// variable for writing without O_TRUNC; in a plain directory a shorter
// BootOrder would keep the old one's tail. The wrapper moves BootOrder aside
// before `-o` (and puts it back if efibootmgr fails), which is what efivarfs
// does; the real tool does everything else.
export async function addEfivarfsEfibootmgr(tools: FakeTools): Promise<void> {
  const real = execFileSync('sh', ['-c', 'command -v efibootmgr'], { encoding: 'utf8' }).trim();
  const order = `"$EFIVARFS_PATH/BootOrder-${globalGuid}"`;
  // The saved copy goes outside the directory: libefivar stops listing
  // variables at a file name that is not NAME-GUID.
  await tools.add(
    'efibootmgr',
    [
      'saved="$(dirname "$EFIVARFS_PATH")/.$(basename "$EFIVARFS_PATH").BootOrder.saved"',
      `case " $* " in *" -o "*) [ -e ${order} ] && mv ${order} "$saved" ;; esac`,
      `"${real}" "$@"; rc=$?`,
      `if [ -e "$saved" ]; then if [ $rc -eq 0 ]; then rm "$saved"; else mv "$saved" ${order}; fi; fi`,
      'exit $rc',
    ].join('\n'),
  );
}

const file = (dir: string, name: string) => join(dir, `${name}-${globalGuid}`);
const u16 = (values: readonly number[]) => {
  const data = Buffer.alloc(values.length * 2);
  for (const [i, v] of values.entries()) data.writeUInt16LE(v, i * 2);
  return data;
};
const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

async function put(dir: string, name: string, value: Buffer | undefined): Promise<void> {
  if (value === undefined) return rm(file(dir, name), { force: true });
  const head = Buffer.alloc(4);
  head.writeUInt32LE(attributes);
  await writeFile(file(dir, name), Buffer.concat([head, value]));
}

async function get(dir: string, name: string): Promise<Buffer | undefined> {
  try {
    return (await readFile(file(dir, name))).subarray(4);
  } catch {
    return undefined;
  }
}

// writeEfiVars stores `nvram` as efivarfs files in `dir`.
export async function writeEfiVars(dir: string, nvram: EfiNvram): Promise<void> {
  const id = (entry: string | undefined) =>
    entry === undefined ? undefined : u16([Number.parseInt(entry, 16)]);
  await put(dir, 'BootCurrent', id(nvram.current));
  await put(dir, 'BootNext', id(nvram.next));
  await put(dir, 'BootOrder', u16(nvram.order.map((e) => Number.parseInt(e, 16))));
  for (const [entry, { label, active }] of Object.entries(nvram.entries)) {
    const head = Buffer.alloc(6);
    head.writeUInt32LE(active ? loadOptionActive : 0);
    head.writeUInt16LE(endOfPath.length, 4);
    const option = Buffer.concat([head, Buffer.from(`${label}\0`, 'utf16le'), endOfPath]);
    await put(dir, `Boot${entry}`, option);
  }
}

// readEfiVars reads what efibootmgr (or the firmware) left in `dir`.
export async function readEfiVars(dir: string): Promise<EfiNvram> {
  const ids = (data: Buffer | undefined) =>
    data === undefined
      ? []
      : Array.from({ length: data.length / 2 }, (_, i) => hex(data.readUInt16LE(i * 2)));
  const entries: EfiNvram['entries'] = {};
  for (const name of await readdir(dir)) {
    const entry = /^Boot([0-9A-F]{4})-/.exec(name)?.[1];
    const option = entry === undefined ? undefined : await get(dir, `Boot${entry}`);
    if (entry === undefined || option === undefined) continue;
    const label = option.subarray(6).toString('utf16le').split('\0')[0] ?? '';
    entries[entry] = { label, active: (option.readUInt32LE(0) & loadOptionActive) !== 0 };
  }
  return {
    current: ids(await get(dir, 'BootCurrent'))[0],
    next: ids(await get(dir, 'BootNext'))[0],
    order: ids(await get(dir, 'BootOrder')),
    entries,
  };
}
