// A stateful fake `grub-editenv FILE list|set K=V…|create`: a real 1024-byte
// GRUB environment block (without escapes) in FILE, like the real tool's.
// Anything else is refused with exit 2, so a backend passing a wrong argument
// fails its test.
import { readFileSync, writeFileSync } from 'node:fs';

const size = 1024;
const header = '# GRUB Environment Block\n';
const [file, command, ...args] = process.argv.slice(2);

function fail(code, message) {
  process.stderr.write(`grub-editenv: error: ${message}\n`);
  process.exit(code);
}

function load() {
  const text = readFileSync(file, 'latin1');
  if (!text.startsWith(header)) fail(1, 'invalid environment block.');
  const vars = new Map();
  for (const line of text.slice(header.length).split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.indexOf('=');
    if (at <= 0) fail(1, 'invalid environment block.');
    vars.set(line.slice(0, at), line.slice(at + 1));
  }
  return vars;
}

function save(vars) {
  let text = header;
  for (const [name, value] of vars) text += `${name}=${value}\n`;
  if (text.length > size) fail(1, 'environment block too small.');
  writeFileSync(file, text + '#'.repeat(size - text.length), 'latin1');
}

if (file === undefined || file.startsWith('-')) fail(2, `fake: expected FILE first, got ${file}`);
if (command === 'create' && args.length === 0) save(new Map());
else if (command === 'list' && args.length === 0) {
  for (const [name, value] of load()) process.stdout.write(`${name}=${value}\n`);
} else if (command === 'set' && args.length > 0) {
  const vars = load();
  for (const arg of args) {
    const at = arg.indexOf('=');
    if (at <= 0 || /[\\\n]/.test(arg)) fail(2, `fake: cannot set ${JSON.stringify(arg)}`);
    vars.set(arg.slice(0, at), arg.slice(at + 1));
  }
  save(vars);
} else fail(2, `fake: unknown arguments ${JSON.stringify(process.argv.slice(3))}`);
