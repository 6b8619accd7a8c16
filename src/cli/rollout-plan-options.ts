// `pendulum rollout create` options → the plan fields of a CreateRolloutRequest.
// The server checks the plan as a whole; this only reads what was typed.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { parseDuration } from '../config/load.js';
import { PendulumError } from '../errors.js';
import type { CreateRolloutRequestSchema } from '../gen/pendulum/v1/fleet_pb.js';

export interface PlanOptions {
  readonly phase: readonly string[];
  readonly tag: readonly string[];
  readonly group: readonly string[];
  readonly device: readonly string[];
  readonly maxFailures?: number;
  readonly maxFailureRatio?: number;
  readonly minFinished?: number;
  readonly window?: string;
  readonly windowDuration?: number;
  readonly timezone?: string;
  readonly healthWatch?: number;
  readonly maxUnhealthy?: number;
  readonly maxUnhealthyRatio?: number;
  readonly minWatched?: number;
  readonly maxAgentRestarts?: number;
}

type PlanFields = Pick<
  MessageInitShape<typeof CreateRolloutRequestSchema>,
  'selector' | 'phases' | 'failureThreshold' | 'window' | 'healthWatch'
>;

const invalid = (option: string, message: string) =>
  new PendulumError('INVALID_ARGUMENT', `${option}: ${message}`, { context: { field: option } });

// parsePhase reads "PERCENT[:SOAK]", e.g. "5:1h" or "100".
export function parsePhase(value: string): { percent: number; minSoakMs: number } {
  const match = /^(\d+(?:\.\d+)?)%?(?::(.+))?$/.exec(value.trim());
  if (match === null)
    throw invalid('--phase', `"${value}" is not PERCENT[:SOAK], e.g. "5:1h" or "100"`);
  const soak = match[2];
  const minSoakMs = soak === undefined ? 0 : parseDuration(soak);
  if (minSoakMs === undefined)
    throw invalid('--phase', `"${soak}" in "${value}" is not a duration like "30m" or "4h"`);
  return { percent: Number(match[1]), minSoakMs };
}

// planFields turns the options into request fields; options not given stay unset.
export function planFields(options: PlanOptions): PlanFields {
  if (options.maxFailures !== undefined && options.maxFailureRatio !== undefined)
    throw invalid('--max-failures', 'give --max-failures or --max-failure-ratio, not both');
  if (options.minFinished !== undefined && options.maxFailureRatio === undefined)
    throw invalid('--min-finished', 'applies only with --max-failure-ratio');
  const windowParts = [options.window, options.windowDuration, options.timezone];
  const windowGiven = windowParts.filter((part) => part !== undefined).length;
  if (windowGiven !== 0 && windowGiven !== 3)
    throw invalid('--window', '--window, --window-duration and --timezone go together');
  const limitGiven = options.maxUnhealthy !== undefined || options.maxUnhealthyRatio !== undefined;
  // A watch without a limit, or a limit without a watch, does nothing.
  if ((options.healthWatch === undefined) === limitGiven)
    throw invalid(
      '--health-watch',
      '--health-watch and one of --max-unhealthy or --max-unhealthy-ratio go together',
    );
  if (options.maxUnhealthy !== undefined && options.maxUnhealthyRatio !== undefined)
    throw invalid('--max-unhealthy', 'give --max-unhealthy or --max-unhealthy-ratio, not both');
  return {
    healthWatch:
      options.healthWatch === undefined
        ? undefined
        : {
            duration: durationFromMs(options.healthWatch),
            maxAgentRestarts: options.maxAgentRestarts ?? 0,
            maxUnhealthy:
              options.maxUnhealthy !== undefined
                ? { limit: { case: 'maxFailures', value: options.maxUnhealthy } }
                : {
                    limit: { case: 'maxFailureRatio', value: options.maxUnhealthyRatio ?? 0 },
                    minFinished: options.minWatched ?? 0,
                  },
          },
    selector: {
      tags: [...options.tag],
      groups: [...options.group],
      deviceIds: [...options.device],
    },
    phases: options.phase.map(parsePhase).map((phase) => ({
      percent: phase.percent,
      minSoak: durationFromMs(phase.minSoakMs),
    })),
    failureThreshold:
      options.maxFailures !== undefined
        ? { limit: { case: 'maxFailures', value: options.maxFailures } }
        : options.maxFailureRatio !== undefined
          ? {
              limit: { case: 'maxFailureRatio', value: options.maxFailureRatio },
              minFinished: options.minFinished ?? 0,
            }
          : undefined,
    window:
      options.window === undefined
        ? undefined
        : {
            cron: options.window,
            duration: durationFromMs(options.windowDuration ?? 0),
            timezone: options.timezone ?? '',
          },
  };
}

// ratioOption parses a ratio between 0 and 1.
export function ratioOption(option: string): (value: string) => number {
  return (value) => {
    const ratio = Number(value);
    if (value.trim() === '' || !Number.isFinite(ratio) || ratio < 0 || ratio > 1)
      throw invalid(option, `must be a ratio from 0 to 1, e.g. 0.05, got "${value}"`);
    return ratio;
  };
}
