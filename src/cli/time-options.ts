// "--expires 365d" or "--expires 2027-06-30T00:00:00Z": a point in time.
import { parseDuration } from '../config/load.js';
import { PendulumError } from '../errors.js';

// expiryFrom turns a duration from now, or an ISO date, into a Date.
export function expiryFrom(value: string, option: string, now = new Date()): Date {
  const ms = parseDuration(value);
  if (ms !== undefined) return new Date(now.getTime() + ms);
  const date = new Date(value);
  if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `${option} must be a duration like "90d" or an ISO date, got "${value}"`,
    );
  }
  return date;
}

// durationOption parses "5m"/"30s" for a command-line option into milliseconds.
export function durationOption(option: string): (value: string) => number {
  return (value) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0)
      throw new PendulumError(
        'INVALID_ARGUMENT',
        `${option} must be a duration like "5m", got "${value}"`,
      );
    return ms;
  };
}
