// A stateful fake `efibootmgr`: the boot manager's variables as JSON in the
// file $FAKE_EFI_NVRAM ({ current, next, order: [], entries: { "0001":
// { label, active } } }). Takes -n XXXX, -N, -o XXXX,YYYY, -O, -b XXXX with
// -a/-A, in any order, and prints the variables afterwards like the real tool;
// fails as the real one does on entries that do not exist. Anything else is
// refused with exit 2.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.FAKE_EFI_NVRAM;
function fail(code, message) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}
if (file === undefined) fail(2, 'EFI variables are not supported on this system.');
const nvram = JSON.parse(readFileSync(file, 'utf8'));
const entry = (value) => {
  if (!/^[0-9A-Fa-f]{1,4}$/.test(value ?? '')) fail(2, `fake efibootmgr: bad entry ${value}`);
  return value.toUpperCase().padStart(4, '0');
};
const argv = process.argv.slice(2);
let bootnum;
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === '-n') {
    const id = entry(argv[++i]);
    if (nvram.entries[id] === undefined)
      fail(12, `Boot entry ${Number.parseInt(id, 16)} does not exist`);
    nvram.next = id;
  } else if (arg === '-N') {
    if (nvram.next === undefined) fail(10, 'Could not delete BootNext: No such file or directory');
    delete nvram.next;
  } else if (arg === '-o') {
    const order = (argv[++i] ?? '').split(',').map(entry);
    const missing = order.find((id) => nvram.entries[id] === undefined);
    if (missing !== undefined) fail(8, `efibootmgr: entry ${missing} does not exist`);
    nvram.order = order;
  } else if (arg === '-O') nvram.order = [];
  else if (arg === '-b') bootnum = entry(argv[++i]);
  else if ((arg === '-a' || arg === '-A') && bootnum !== undefined) {
    if (nvram.entries[bootnum] === undefined) fail(12, `Boot entry ${bootnum} does not exist`);
    nvram.entries[bootnum].active = arg === '-a';
  } else fail(2, `fake efibootmgr: unknown argument ${arg}`);
}
writeFileSync(file, JSON.stringify(nvram));
const lines = [];
if (nvram.next !== undefined) lines.push(`BootNext: ${nvram.next}`);
if (nvram.current !== undefined) lines.push(`BootCurrent: ${nvram.current}`);
lines.push('Timeout: 1 seconds');
lines.push(
  nvram.order.length > 0
    ? `BootOrder: ${nvram.order.join(',')}`
    : 'No BootOrder is set; firmware will attempt recovery',
);
for (const [id, { label, active }] of Object.entries(nvram.entries).sort()) {
  lines.push(
    `Boot${id}${active ? '*' : ' '} ${label}\tHD(1,GPT,fake)/File(\\EFI\\BOOT\\BOOTX64.EFI)`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
