// zod field types shared by the server and agent config schemas.
import { z } from 'zod';
import { parseDuration, parseSize } from './load.js';

// A value of neither accepted type gets this hint, not zod's bare "Invalid input".
const expecting = (what: string) => ({ errorMap: () => ({ message: `expected ${what}` }) });

// duration is a config field written "30s" / "5m" / a number of ms, parsed to ms.
export const duration = z
  .union([z.string(), z.number()], expecting('a duration like "30s", "5m" or "250ms"'))
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `"${value}" is not a duration like "30s", "5m" or "250ms"`,
      });
      return z.NEVER;
    }
    return ms;
  });

// Longest delay a Node timer keeps (2^31 - 1 ms, about 24.8 days); above it, it fires at once.
const maxTimerMs = 2 ** 31 - 1;

// timer is a duration a timer waits for: above zero and within Node's timer range.
export const timer = duration.refine(
  (ms) => ms > 0 && ms <= maxTimerMs,
  'expected a duration above 0 and at most 24 days',
);

// size is a config field written "1MiB" / a number of bytes, parsed to bytes.
export const size = z
  .union([z.string(), z.number()], expecting('a size like "64KiB", "1MiB" or a byte count'))
  .transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `"${value}" is not a size like "64KiB", "1MiB" or a byte count`,
      });
      return z.NEVER;
    }
    return bytes;
  });
