// The rollout controller's decisions: pause on failures before widening,
// advance after the soak, hold otherwise; and which devices a rollout reaches.
import { describe, expect, it } from 'vitest';
import { decide, type RolloutPosition, reaches } from '../../../src/server/rollouts/controller.js';
import { wholeClassPlan } from '../../../src/server/rollouts/plan.js';

const hour = 3_600_000;
const started = new Date('2026-01-01T00:00:00Z');
const later = (ms: number) => new Date(started.getTime() + ms);
const rollout: RolloutPosition = {
  id: 'r1',
  classId: 'gw',
  state: 'active',
  plan: {
    ...wholeClassPlan,
    phases: [
      { percent: 10, minSoakMs: hour },
      { percent: 100, minSoakMs: 0 },
    ],
    threshold: { kind: 'ratio', ratio: 0.1, minFinished: 10 },
  },
  currentPhase: 0,
  phaseStartedAt: started,
};

describe('rollout controller', () => {
  it('holds a phase until it has soaked, then advances it', () => {
    expect(decide(rollout, { succeeded: 5, failed: 0 }, later(hour - 1))).toEqual({ kind: 'hold' });
    expect(decide(rollout, { succeeded: 5, failed: 0 }, later(hour))).toEqual({
      kind: 'advance',
      from: 0,
    });
  });

  it('pauses itself when failures cross the threshold, and says why, before it would widen', () => {
    expect(decide(rollout, { succeeded: 8, failed: 2 }, later(2 * hour))).toEqual({
      kind: 'pause',
      reason: '2 of 10 finished deployments failed or rolled back (20 %, above 10 %)',
    });
  });

  it('holds a paused or aborted rollout', () => {
    for (const state of ['paused', 'aborted'] as const)
      expect(decide({ ...rollout, state }, { succeeded: 0, failed: 50 }, later(9 * hour))).toEqual({
        kind: 'hold',
      });
  });

  it('reaches about a tenth of the class in the first phase and all of it in the last', () => {
    const devices = Array.from({ length: 5_000 }, (_, i) => ({
      id: `d${i}`,
      classId: 'gw',
      tags: [],
      groups: [],
    }));
    const first = devices.filter((d) => reaches(rollout, d)).length / devices.length;
    expect(first).toBeGreaterThan(0.08);
    expect(first).toBeLessThan(0.12);
    expect(devices.every((d) => reaches({ ...rollout, currentPhase: 1 }, d))).toBe(true);
    const stranger = { id: 'd0', classId: 'other', tags: [], groups: [] };
    expect(reaches({ ...rollout, currentPhase: 1 }, stranger)).toBe(false);
    expect(devices.some((d) => reaches({ ...rollout, state: 'paused', currentPhase: 1 }, d))).toBe(
      false,
    );
  });
});
