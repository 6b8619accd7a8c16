// The variables of a bootloader environment as the agent reads them: the
// `name=value` listing grub-editenv and fw_printenv print, and the checks a
// boot-counting variable passes before the agent acts on it.
import { PendulumError } from '../../errors.js';
import type { SlotName } from '../slots/slot.js';

// parseListing reads `name=value` lines as `grub-editenv FILE list` and
// `fw_printenv` print them; a line without "=" continues the value before it
// (a value with a newline in it).
export function parseListing(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) {
      last = line.slice(0, at);
      vars.set(last, line.slice(at + 1));
    } else if (last !== undefined) {
      vars.set(last, `${vars.get(last)}\n${line}`);
    }
  }
  return vars;
}

// changedVars is what a write of `next` must set: the variables whose value
// differs from `vars`.
export function changedVars(
  vars: ReadonlyMap<string, string>,
  next: ReadonlyMap<string, string>,
): [string, string][] {
  return [...next].filter(([name, value]) => vars.get(name) !== value);
}

export interface EnvReader {
  // text is the value of `name` if it matches `pattern`, which `expected` describes.
  text(name: string, pattern: RegExp, expected: string): string;
  // count is a boot count (0 allowed unless `positive`).
  count(name: string, positive?: boolean): number;
  // order is a list of distinct slots in try order, such as "A B".
  order(name: string): SlotName[];
}

// envReader checks the variables of one environment; `source` names it in
// errors, and a missing or malformed variable is BOOTLOADER_FAILED naming it.
export function envReader(vars: ReadonlyMap<string, string>, source: string): EnvReader {
  const text = (name: string, pattern: RegExp, expected: string): string => {
    const value = vars.get(name);
    if (value === undefined || !pattern.test(value)) throw malformed(source, name, value, expected);
    return value;
  };
  return {
    text,
    count: (name, positive = false) =>
      Number(
        positive
          ? text(name, /^[1-9]\d{0,5}$/, 'a positive boot count')
          : text(name, /^\d{1,6}$/, 'a boot count'),
      ),
    order(name) {
      const order = text(name, /^\s*[AB](\s+[AB])?\s*$/, 'slots in try order such as "A B"')
        .trim()
        .split(/\s+/) as SlotName[];
      if (order[0] === order[1])
        throw malformed(source, name, vars.get(name), 'each slot at most once');
      return order;
    },
  };
}

function malformed(
  source: string,
  name: string,
  value: string | undefined,
  expected: string,
): PendulumError {
  const found = value === undefined ? 'is missing' : `is ${JSON.stringify(value)}`;
  return new PendulumError(
    'BOOTLOADER_FAILED',
    `${source}: ${name} ${found}, expected ${expected}`,
    {
      context: { file: source, variable: name },
    },
  );
}
