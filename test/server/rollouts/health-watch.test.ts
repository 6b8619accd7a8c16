// Post-commit health: which committed devices are watched, which of them are
// unhealthy and why, and when that pauses a rollout.
import { describe, expect, it } from 'vitest';
import {
  assessHealth,
  type CommittedDevice,
  type HealthWatch,
  unhealthyReason,
} from '../../../src/server/rollouts/health-watch.js';
import { noHealth } from '../../../src/server/store/devices.js';

const now = new Date('2026-06-01T12:00:00Z');
const minutes = (n: number) => new Date(now.getTime() - n * 60_000);
const watch: HealthWatch = {
  watchMs: 24 * 3_600_000,
  maxRestarts: 3,
  threshold: { kind: 'count', count: 2 },
};

const device = (overrides: Partial<CommittedDevice> = {}): CommittedDevice => ({
  deviceId: 'd',
  committedAt: minutes(60),
  runningSequence: 5,
  releaseSequence: 5,
  lastSeenAt: minutes(1),
  health: noHealth,
  ...overrides,
});

describe('post-commit health', () => {
  it('watches only devices that committed within the watch and still run the release', () => {
    const assessment = assessHealth(
      watch,
      [
        device(),
        device({ committedAt: minutes(25 * 60) }),
        device({ runningSequence: 6 }),
        device({ runningSequence: 4 }),
      ],
      now,
      15 * 60_000,
    );
    expect(assessment).toEqual({
      watched: 1,
      unhealthy: 0,
      lostContact: 0,
      failedChecks: 0,
      restarts: 0,
    });
  });

  it('counts a device unhealthy once, by its first reason: lost contact, failed checks, restarts', () => {
    const assessment = assessHealth(
      watch,
      [
        device({ lastSeenAt: minutes(16), health: { ...noHealth, checksFailed: 1 } }),
        device({ lastSeenAt: null }),
        device({ health: { ...noHealth, checksFailed: 2, restarts: 9 } }),
        device({ health: { ...noHealth, restarts: 4 } }),
        device({ health: { ...noHealth, restarts: 3, checksRun: 10 } }),
      ],
      now,
      15 * 60_000,
    );
    expect(assessment).toEqual({
      watched: 5,
      unhealthy: 4,
      lostContact: 2,
      failedChecks: 1,
      restarts: 1,
    });
  });

  it('pauses at the count, or above the ratio once enough devices are watched, and says why', () => {
    const some = { watched: 10, unhealthy: 2, lostContact: 1, failedChecks: 1, restarts: 0 };
    expect(unhealthyReason(watch, some)).toBe(
      'post-commit health: 2 of 10 devices watched after their commit turned unhealthy (1 lost contact, 1 failed periodic health checks, 0 restarted the agent more than 3 times), at the limit of 2',
    );
    expect(unhealthyReason(watch, { ...some, unhealthy: 1, lostContact: 0 })).toBeUndefined();
    const ratio: HealthWatch = {
      ...watch,
      threshold: { kind: 'ratio', ratio: 0.1, minFinished: 20 },
    };
    expect(unhealthyReason(ratio, some)).toBeUndefined();
    expect(unhealthyReason(ratio, { ...some, watched: 20, unhealthy: 3 })).toContain('above 10 %');
  });
});
