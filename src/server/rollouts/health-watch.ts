// Post-commit health: a rollout can watch its devices for a while after they
// commit, and pause itself when too many turn unhealthy: the agent restarting
// more often than allowed, periodic health checks failing, or the device
// going silent. Pure: the controller loads the watched devices, this judges.
import type { DeviceHealth } from '../store/devices.js';
import { breaches, type FailureThreshold } from './phases.js';

export interface HealthWatch {
  // How long after its commit a device is watched.
  readonly watchMs: number;
  // More agent starts than this since the commit is unhealthy.
  readonly maxRestarts: number;
  // How many (or what share) of the watched devices may be unhealthy.
  readonly threshold: FailureThreshold;
}

export const defaultMaxRestarts = 3;

export interface CommittedDevice {
  readonly deviceId: string;
  // When the server recorded the commit.
  readonly committedAt: Date;
  // The sequence the device says it runs now, and the rollout's release.
  readonly runningSequence: number;
  readonly releaseSequence: number;
  readonly lastSeenAt: Date | null;
  readonly health: DeviceHealth;
}

export interface HealthAssessment {
  readonly watched: number;
  readonly unhealthy: number;
  // Unhealthy devices by their first reason, in this order.
  readonly lostContact: number;
  readonly failedChecks: number;
  readonly restarts: number;
}

// assessHealth counts the devices in their watch (committed within watchMs
// and still running the release) and the unhealthy ones among them. A
// device is silent when not seen for silentAfterMs.
export function assessHealth(
  watch: HealthWatch,
  devices: readonly CommittedDevice[],
  now: Date,
  silentAfterMs: number,
): HealthAssessment {
  let watched = 0;
  let lostContact = 0;
  let failedChecks = 0;
  let restarts = 0;
  for (const device of devices) {
    if (now.getTime() - device.committedAt.getTime() > watch.watchMs) continue;
    if (device.runningSequence !== device.releaseSequence) continue;
    watched++;
    const seen = device.lastSeenAt?.getTime() ?? Number.NEGATIVE_INFINITY;
    if (now.getTime() - seen > silentAfterMs) lostContact++;
    else if (device.health.checksFailed > 0) failedChecks++;
    else if (device.health.restarts > watch.maxRestarts) restarts++;
  }
  return {
    watched,
    unhealthy: lostContact + failedChecks + restarts,
    lostContact,
    failedChecks,
    restarts,
  };
}

// unhealthyReason says why a rollout pauses, or undefined when it need not.
export function unhealthyReason(
  watch: HealthWatch,
  assessment: HealthAssessment,
): string | undefined {
  const { watched, unhealthy } = assessment;
  const counts = { succeeded: watched - unhealthy, failed: unhealthy };
  if (!breaches(watch.threshold, counts)) return undefined;
  const why = [
    `${assessment.lostContact} lost contact`,
    `${assessment.failedChecks} failed periodic health checks`,
    `${assessment.restarts} restarted the agent more than ${watch.maxRestarts} times`,
  ].join(', ');
  const limit =
    watch.threshold.kind === 'count'
      ? `at the limit of ${watch.threshold.count}`
      : `above ${Math.round(watch.threshold.ratio * 1000) / 10} %`;
  return `post-commit health: ${unhealthy} of ${watched} devices watched after their commit turned unhealthy (${why}), ${limit}`;
}
