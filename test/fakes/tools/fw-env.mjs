// A stateful fake of libubootenv's `fw_printenv` / `fw_setenv` (first argument
// says which): `-c CONFIG` is required, and the first device CONFIG names holds
// the environment as JSON. Like the real tools, a missing or unreadable
// environment falls back to the `-f` default file (name=value lines) and
// fails without one; fw_setenv takes name/value pairs, a name without a value
// deletes it. Anything else is refused with exit 2.
import { readFileSync, writeFileSync } from 'node:fs';

const [tool, ...argv] = process.argv.slice(2);
let config;
let defaults;
const rest = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '-c') config = argv[++i];
  else if (argv[i] === '-f') defaults = argv[++i];
  else if (argv[i].startsWith('-')) fail(2, `fake ${tool}: unknown option ${argv[i]}`);
  else rest.push(argv[i]);
}

function fail(code, message) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function load(device) {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(device, 'utf8'))));
  } catch {
    process.stderr.write('Cannot read environment, using default\n');
  }
  try {
    const lines = readFileSync(defaults ?? '/etc/u-boot-initial-env', 'utf8').split('\n');
    return new Map(lines.filter((l) => l.includes('=')).map((l) => l.split(/=(.*)/s).slice(0, 2)));
  } catch {
    fail(243, 'Cannot read default environment from file');
  }
}

if (config === undefined) fail(2, `fake ${tool}: -c CONFIG is required`);
const device = readFileSync(config, 'utf8')
  .split('\n')
  .find((l) => l.trim() !== '' && !l.startsWith('#'))
  ?.split(/\s+/)[0];
if (device === undefined) fail(234, 'Configuration file wrong or corrupted');
const vars = load(device);
if (tool === 'fw_printenv' && rest.length === 0) {
  for (const name of [...vars.keys()].sort()) process.stdout.write(`${name}=${vars.get(name)}\n`);
} else if (tool === 'fw_setenv' && rest.length > 0) {
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i + 1] === undefined) vars.delete(rest[i]);
    else vars.set(rest[i], rest[i + 1]);
  }
  writeFileSync(device, JSON.stringify(Object.fromEntries(vars)));
} else fail(2, `fake ${tool}: unsupported arguments ${JSON.stringify(rest)}`);
