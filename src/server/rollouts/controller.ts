// What a rollout does next, decided from its plan, where it is and how its
// deployments ended. Pure: the store applies the decision with a conditional
// update (advancePhase, pauseBySelf), so replicas deciding at once agree.
import { type HealthAssessment, unhealthyReason } from './health-watch.js';
import {
  breaches,
  bucketOf,
  mayAdvance,
  phaseOf,
  type SelectableDevice,
  selects,
} from './phases.js';
import type { RolloutPlan } from './plan.js';

export interface RolloutPosition {
  readonly id: string;
  readonly classId: string;
  readonly state: 'active' | 'paused' | 'aborted';
  readonly plan: RolloutPlan;
  readonly currentPhase: number;
  readonly phaseStartedAt: Date;
}

// Finished deployments of the rollout so far.
export interface FinishedCounts {
  readonly succeeded: number;
  readonly failed: number;
}

export type Decision =
  | { readonly kind: 'hold' }
  | { readonly kind: 'advance'; readonly from: number }
  | { readonly kind: 'pause'; readonly reason: string };

// decide: pause when the failure threshold is crossed or too many devices
// turned unhealthy after their commit (before anything else, so a bad
// release never reaches a wider phase), else advance once the current phase
// has soaked, else hold.
export function decide(
  rollout: RolloutPosition,
  finished: FinishedCounts,
  now: Date,
  health?: HealthAssessment,
): Decision {
  if (rollout.state !== 'active') return { kind: 'hold' };
  const watch = rollout.plan.healthWatch;
  if (watch !== undefined && health !== undefined) {
    const reason = unhealthyReason(watch, health);
    if (reason !== undefined) return { kind: 'pause', reason };
  }
  const threshold = rollout.plan.threshold;
  if (threshold !== undefined && breaches(threshold, finished)) {
    const total = finished.succeeded + finished.failed;
    const reason =
      threshold.kind === 'count'
        ? `${finished.failed} deployments failed or rolled back, at the limit of ${threshold.count}`
        : `${finished.failed} of ${total} finished deployments failed or rolled back (${percent(finished.failed / total)}, above ${percent(threshold.ratio)})`;
    return { kind: 'pause', reason };
  }
  if (mayAdvance(rollout.plan.phases, rollout.currentPhase, rollout.phaseStartedAt, now))
    return { kind: 'advance', from: rollout.currentPhase };
  return { kind: 'hold' };
}

// positionOf reads where a stored rollout is.
export function positionOf(rollout: {
  readonly id: string;
  readonly classId: string;
  readonly state: RolloutPosition['state'];
  readonly plan: RolloutPlan;
  readonly currentPhase: number;
  readonly phaseStartedAt: string;
}): RolloutPosition {
  return { ...rollout, phaseStartedAt: new Date(rollout.phaseStartedAt) };
}

// reaches tells whether an active rollout offers its release to a device now:
// the device is selected and in an open phase.
export function reaches(rollout: RolloutPosition, device: SelectableDevice): boolean {
  if (rollout.state !== 'active') return false;
  const { plan } = rollout;
  const selector = {
    classId: rollout.classId,
    tags: plan.tags,
    groups: plan.groups,
    deviceIds: plan.deviceIds,
  };
  if (!selects(selector, device)) return false;
  return phaseOf(bucketOf(rollout.id, device.id), plan.phases, rollout.currentPhase) !== undefined;
}

function percent(ratio: number): string {
  return `${Math.round(ratio * 1000) / 10} %`;
}
