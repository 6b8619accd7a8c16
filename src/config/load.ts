// Reading TOML config files into validated, typed objects. Errors name the
// file and the field that is wrong.
import { readFile } from 'node:fs/promises';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { PendulumError } from '../errors.js';

// loadTomlFile reads and validates a TOML file against a schema.
export async function loadTomlFile<T extends z.ZodTypeAny>(
  path: string,
  schema: T,
): Promise<z.output<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PendulumError('CONFIG_INVALID', `cannot read config file ${path}`, {
      context: { file: path },
      cause: error,
    });
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    const { line, column } = error as { line?: unknown; column?: unknown };
    const at = typeof line === 'number' ? ` at line ${line}, column ${column}` : '';
    throw new PendulumError('CONFIG_INVALID', `${path}: not valid TOML${at}: ${detail}`, {
      context: { file: path, ...(typeof line === 'number' ? { line } : {}) },
      cause: error,
    });
  }
  return validateConfig(raw, schema, path);
}

// validateConfig checks a parsed object against a schema; `source` names it in errors.
export function validateConfig<T extends z.ZodTypeAny>(
  raw: unknown,
  schema: T,
  source: string,
): z.output<T> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // An unknown key is named by its own path, not by the table it sits in.
  const unknown = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const path = [...(issue?.path ?? []), ...(unknown === undefined ? [] : [unknown])];
  const field = path.join('.') || '(top level)';
  const problem = unknown === undefined ? (issue?.message ?? 'invalid') : 'is not a known setting';
  throw new PendulumError('CONFIG_INVALID', `${source}: field "${field}": ${problem}`, {
    context: { file: source, field },
  });
}

// Durations in config are written "30s", "5m", "1h", "250ms" or a number of milliseconds.
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (match === null) return undefined;
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Math.round(Number(match[1]) * scale);
}

// Sizes in config are written "64KiB", "1MiB", "16GiB" or a number of bytes.
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number')
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const match = /^(\d+)\s*(B|KiB|MiB|GiB|TiB)?$/.exec(value.trim());
  if (match === null) return undefined;
  const scale = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[
    (match[2] ?? 'B') as 'B'
  ];
  return Number(match[1]) * scale;
}
