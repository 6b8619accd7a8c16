// Rollout progress: devices counted in the phase their hash puts them in,
// by stage; failure reasons; stage times from deployment events.
import { describe, expect, it } from 'vitest';
import type { RolloutPosition } from '../../../src/server/rollouts/controller.js';
import { bucketOf } from '../../../src/server/rollouts/phases.js';
import { wholeClassPlan } from '../../../src/server/rollouts/plan.js';
import { rolloutProgress } from '../../../src/server/rollouts/progress.js';

const rollout: RolloutPosition = {
  id: 'r1',
  classId: 'gw',
  state: 'active',
  plan: {
    ...wholeClassPlan,
    tags: ['eu'],
    phases: [
      { percent: 50, minSoakMs: 0 },
      { percent: 100, minSoakMs: 0 },
    ],
  },
  currentPhase: 0,
  phaseStartedAt: new Date(0),
};

const device = (id: string, tags = ['eu']) => ({ id, classId: 'gw', tags, groups: [] });
const devices = Array.from({ length: 40 }, (_, i) => device(`d${i}`));
const first = devices.filter((d) => bucketOf('r1', d.id) < 5000);
const second = devices.filter((d) => bucketOf('r1', d.id) >= 5000);

describe('rollout progress', () => {
  it('counts selected devices by phase: pending in an open phase, not yet reached after it', () => {
    expect(first.length).toBeGreaterThan(2);
    expect(second.length).toBeGreaterThan(0);
    const progress = rolloutProgress(
      rollout,
      [...devices, device('untagged', []), { ...device('other-class'), classId: 'cam' }],
      [],
      [],
    );
    expect(progress.selected).toBe(40);
    expect(progress.phases.map((p) => [p.percent, p.open, p.devices, p.counts.pending])).toEqual([
      [50, true, first.length, first.length],
      [100, false, second.length, 0],
    ]);
  });

  it('puts each deployment in its stage and phase, and counts why they failed', () => {
    expect(first.length).toBeGreaterThanOrEqual(5);
    const states = [
      ['downloading', ''],
      ['verifying', ''],
      ['committed', ''],
      ['rolled_back', 'HEALTH_CHECK_FAILED'],
      ['failed', 'DIGEST_MISMATCH'],
    ];
    const deployments = states.map(([state, errorCode], i) => ({
      id: `x${i}`,
      deviceId: first[i]?.id ?? '',
      state: state ?? '',
      errorCode: errorCode ?? '',
    }));
    const progress = rolloutProgress(rollout, devices, deployments, []);
    expect(progress.phases[0]?.counts).toEqual({
      pending: first.length - 5,
      downloading: 1,
      installed: 1,
      committed: 1,
      failed: 1,
      rolled_back: 1,
    });
    expect(progress.total.committed).toBe(1);
    expect(progress.failureReasons).toEqual({ HEALTH_CHECK_FAILED: 1, DIGEST_MISMATCH: 1 });
  });

  it('times each stage from the first entry into a state to the first entry into the next', () => {
    const at = (s: number) => new Date(s * 1000).toISOString();
    const events = [
      { deploymentId: 'x1', state: 'offered', at: at(0) },
      { deploymentId: 'x1', state: 'downloading', at: at(10) },
      { deploymentId: 'x1', state: 'downloading', at: at(50) },
      { deploymentId: 'x1', state: 'installed', at: at(70) },
      { deploymentId: 'x1', state: 'armed', at: at(70) },
      { deploymentId: 'x1', state: 'verifying', at: at(100) },
      { deploymentId: 'x1', state: 'committed', at: at(130) },
      { deploymentId: 'x2', state: 'offered', at: at(0) },
      { deploymentId: 'x2', state: 'downloading', at: at(30) },
    ];
    const times = rolloutProgress(rollout, [], [], events).stageTimes;
    expect(times.map((t) => [t.stage, t.samples, t.p50Ms, t.p90Ms])).toEqual([
      ['start', 2, 10_000, 30_000],
      ['download', 1, 60_000, 60_000],
      ['wait_for_window', 1, 0, 0],
      ['reboot', 1, 30_000, 30_000],
      ['health_check', 1, 30_000, 30_000],
    ]);
  });
});
