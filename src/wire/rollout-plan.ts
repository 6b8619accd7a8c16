// Rollout plans on the wire ↔ the checked RolloutPlan the server keeps.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { type Duration, durationFromMs, durationMs } from '@bufbuild/protobuf/wkt';
import { PendulumError } from '../errors.js';
import type { MaintenanceWindowSchema } from '../gen/pendulum/v1/device_pb.js';
import type {
  CreateRolloutRequest,
  FailureThresholdSchema,
  HealthWatchSchema,
  RolloutPhaseSchema,
  RolloutSelectorSchema,
} from '../gen/pendulum/v1/fleet_pb.js';
import { defaultMaxRestarts, type HealthWatch } from '../server/rollouts/health-watch.js';
import type { FailureThreshold } from '../server/rollouts/phases.js';
import { checkPlan, type RolloutPlan, wholeClassPlan } from '../server/rollouts/plan.js';
import { windowFromWire, windowToWire } from './window.js';

// planFromWire reads the plan of a CreateRolloutRequest and checks it; a
// request without phases reaches every selected device at once.
export function planFromWire(request: CreateRolloutRequest): RolloutPlan {
  const phases =
    request.phases.length === 0
      ? wholeClassPlan.phases
      : request.phases.map((phase, index) => ({
          percent: phase.percent,
          minSoakMs: wireMs(phase.minSoak, `phases[${index}].min_soak`),
        }));
  const window =
    request.window === undefined ? undefined : windowFromWire(request.window, 'window');
  return checkPlan({
    phases,
    tags: request.selector?.tags ?? [],
    groups: request.selector?.groups ?? [],
    deviceIds: request.selector?.deviceIds ?? [],
    threshold: thresholdFromWire(request.failureThreshold, 'failure_threshold'),
    window,
    healthWatch: healthWatchFromWire(request.healthWatch),
  });
}

function healthWatchFromWire(watch: CreateRolloutRequest['healthWatch']): HealthWatch | undefined {
  if (watch === undefined) return undefined;
  const watchMs = wireMs(watch.duration, 'health_watch.duration');
  const threshold = thresholdFromWire(watch.maxUnhealthy, 'health_watch.max_unhealthy');
  if (watchMs === 0 || threshold === undefined)
    throw new PendulumError(
      'INVALID_ARGUMENT',
      'health_watch needs a duration and max_unhealthy (a count or a ratio)',
      { context: { field: 'health_watch' } },
    );
  return {
    watchMs,
    maxRestarts: watch.maxAgentRestarts === 0 ? defaultMaxRestarts : watch.maxAgentRestarts,
    threshold,
  };
}

function thresholdFromWire(
  threshold: CreateRolloutRequest['failureThreshold'],
  field: string,
): FailureThreshold | undefined {
  if (threshold === undefined) return undefined;
  const { limit } = threshold;
  switch (limit.case) {
    case 'maxFailures':
      return { kind: 'count', count: limit.value };
    case 'maxFailureRatio':
      return {
        kind: 'ratio',
        ratio: limit.value,
        minFinished: threshold.minFinished === 0 ? 1 : threshold.minFinished,
      };
    default:
      throw new PendulumError(
        'INVALID_ARGUMENT',
        `${field} needs max_failures or max_failure_ratio`,
        {
          context: { field },
        },
      );
  }
}

// wireMs reads a Duration as milliseconds; unset is zero, negative or
// unrepresentable is INVALID_ARGUMENT naming the field.
function wireMs(duration: Duration | undefined, field: string): number {
  if (duration === undefined) return 0;
  const ms = durationMs(duration);
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new PendulumError('INVALID_ARGUMENT', `${field} must be a duration of zero or more`, {
      context: { field },
    });
  return ms;
}

export interface WirePlan {
  readonly selector: MessageInitShape<typeof RolloutSelectorSchema>;
  readonly phases: MessageInitShape<typeof RolloutPhaseSchema>[];
  readonly failureThreshold: MessageInitShape<typeof FailureThresholdSchema> | undefined;
  readonly window: MessageInitShape<typeof MaintenanceWindowSchema> | undefined;
  readonly healthWatch: MessageInitShape<typeof HealthWatchSchema> | undefined;
}

// planToWire shows a stored plan in a Rollout message.
export function planToWire(plan: RolloutPlan): WirePlan {
  const { threshold, window, healthWatch } = plan;
  return {
    selector: { tags: [...plan.tags], groups: [...plan.groups], deviceIds: [...plan.deviceIds] },
    phases: plan.phases.map((phase) => ({
      percent: phase.percent,
      minSoak: durationFromMs(phase.minSoakMs),
    })),
    failureThreshold: threshold === undefined ? undefined : thresholdToWire(threshold),
    healthWatch:
      healthWatch === undefined
        ? undefined
        : {
            duration: durationFromMs(healthWatch.watchMs),
            maxAgentRestarts: healthWatch.maxRestarts,
            maxUnhealthy: thresholdToWire(healthWatch.threshold),
          },
    window: window === undefined ? undefined : windowToWire(window),
  };
}

function thresholdToWire(
  threshold: FailureThreshold,
): MessageInitShape<typeof FailureThresholdSchema> {
  return threshold.kind === 'count'
    ? { limit: { case: 'maxFailures', value: threshold.count } }
    : {
        limit: { case: 'maxFailureRatio', value: threshold.ratio },
        minFinished: threshold.minFinished,
      };
}
