// Maintenance windows: when a device of a rollout may activate (reboot into)
// a release. Outside its window a device may still download and install to
// its inactive slot. A window opens on a cron schedule in a time zone and
// stays open for a duration. Pure but for croner, which does the calendar.
import { Cron } from 'croner';
import { PendulumError } from '../errors.js';

export interface WindowSpec {
  // Five-field cron: minute hour day-of-month month day-of-week.
  readonly cron: string;
  readonly durationMs: number;
  // IANA time zone, e.g. "Europe/Berlin"; the cron fields are local to it.
  readonly timezone: string;
}

export interface MaintenanceWindow {
  readonly spec: WindowSpec;
  // isOpen tells whether `now` falls inside an opening of the window.
  isOpen(now: Date): boolean;
  // nextOpen is when the window next opens after `now` (now, if it is open).
  nextOpen(now: Date): Date | undefined;
}

const maxDurationMs = 7 * 24 * 3_600_000;

// parseWindow checks a window spec and returns the window; a bad cron field,
// an unknown time zone or a duration outside (0, 7 days] is INVALID_ARGUMENT.
export function parseWindow(spec: WindowSpec): MaintenanceWindow {
  const invalid = (message: string, field: string, cause?: unknown) =>
    new PendulumError('INVALID_ARGUMENT', `maintenance window: ${message}`, {
      context: { field },
      ...(cause === undefined ? {} : { cause }),
    });
  if (spec.cron.trim().split(/\s+/).length !== 5)
    throw invalid(`"${spec.cron}" must have five fields (minute hour day month weekday)`, 'cron');
  if (
    !Number.isSafeInteger(spec.durationMs) ||
    spec.durationMs <= 0 ||
    spec.durationMs > maxDurationMs
  )
    throw invalid('the duration must be above zero and at most 7 days', 'duration');
  let cron: Cron;
  try {
    cron = new Cron(spec.cron, { timezone: spec.timezone, paused: true });
    cron.nextRun(new Date(0));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const field = /timezone/i.test(message) ? 'timezone' : 'cron';
    throw invalid(`${field} is not valid: ${message}`, field, error);
  }
  // The latest opening at or before `at`. croner looks back from whole
  // seconds and excludes its reference, so ask from a second later and skip
  // an opening that lies after `at`.
  const lastStart = (at: Date): Date | undefined =>
    cron
      .previousRuns(2, new Date(at.getTime() + 1000))
      .find((run) => run.getTime() <= at.getTime());
  return {
    spec,
    isOpen(now) {
      const start = lastStart(now);
      return start !== undefined && now.getTime() < start.getTime() + spec.durationMs;
    },
    nextOpen(now) {
      if (this.isOpen(now)) return now;
      return cron.nextRun(now) ?? undefined;
    },
  };
}
