import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import { wholeClassPlan } from '../../../src/server/rollouts/plan.js';
import type { Store } from '../../../src/server/store/index.js';
import { at, forEachBackend, hex64, openTempStore, publish, type TempStore } from './temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
    await publish(store, { id: hex64(1), sequence: 1 });
    await publish(store, { id: hex64(2), sequence: 2 });
    await publish(store, { id: hex64(3), sequence: 3, classId: 'camera' });
  });
  afterEach(async () => temp.cleanup());

  describe('rollouts', () => {
    it('lists rollouts newest first with their release version and sequence', async () => {
      await store.rollouts.create({
        id: 'r1',
        releaseId: hex64(1),
        classId: 'gateway',
        now: at(10),
      });
      const created = await store.rollouts.create({
        id: 'r2',
        releaseId: hex64(2),
        classId: 'gateway',
        now: at(20),
      });
      expect(created).toEqual({
        id: 'r2',
        releaseId: hex64(2),
        classId: 'gateway',
        state: 'active',
        createdAt: at(20).toISOString(),
        updatedAt: at(20).toISOString(),
        plan: wholeClassPlan,
        currentPhase: 0,
        phaseStartedAt: at(20).toISOString(),
        pauseReason: '',
        version: '1.2.0',
        sequence: 2,
      });
      expect((await store.rollouts.list()).map((r) => r.id)).toEqual(['r2', 'r1']);
    });

    it('a paused or aborted rollout offers nothing to its class', async () => {
      await store.rollouts.create({
        id: 'r1',
        releaseId: hex64(1),
        classId: 'gateway',
        now: at(10),
      });
      await store.rollouts.create({
        id: 'r2',
        releaseId: hex64(2),
        classId: 'gateway',
        now: at(20),
      });
      await store.rollouts.create({
        id: 'r3',
        releaseId: hex64(3),
        classId: 'camera',
        now: at(30),
      });

      const active = await store.rollouts.activeForClass('gateway');
      expect(active.map((r) => [r.id, r.sequence])).toEqual([
        ['r2', 2],
        ['r1', 1],
      ]);
      expect(active[0]?.signed).toEqual(new Uint8Array([2, 1, 2, 3]));
      expect(active[0]?.expiresAt).toBe(at(86_400).toISOString());

      const paused = await store.rollouts.setState('r2', 'paused', ['active'], at(40));
      expect(paused.changed).toBe(true);
      expect(paused.rollout).toMatchObject({
        state: 'paused',
        updatedAt: at(40).toISOString(),
        createdAt: at(20).toISOString(),
      });
      await store.rollouts.setState('r1', 'aborted', ['active', 'paused'], at(41));
      expect(await store.rollouts.activeForClass('gateway')).toEqual([]);
    });

    it('changes state only from the states it is told, so an aborted rollout never comes back', async () => {
      await store.rollouts.create({
        id: 'r3',
        releaseId: hex64(2),
        classId: 'gateway',
        now: at(50),
      });
      expect(
        (await store.rollouts.setState('r3', 'aborted', ['active', 'paused'], at(51))).changed,
      ).toBe(true);
      const resumed = await store.rollouts.setState('r3', 'active', ['paused'], at(52));
      expect(resumed.changed).toBe(false);
      expect(resumed.rollout.state).toBe('aborted');
      expect(resumed.rollout.updatedAt).toBe(at(51).toISOString());
    });

    it('changing an unknown rollout is NOT_FOUND', async () => {
      const error = await store.rollouts
        .setState('nope', 'paused', ['active'], at(0))
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
      expect(await store.rollouts.get('nope')).toBeUndefined();
    });
  });

  describe('rollout plans', () => {
    const plan = {
      phases: [
        { percent: 5, minSoakMs: 3_600_000 },
        { percent: 100, minSoakMs: 0 },
      ],
      tags: ['eu'],
      groups: [],
      deviceIds: [],
      threshold: { kind: 'ratio' as const, ratio: 0.05, minFinished: 20 },
      window: { cron: '0 2 * * *', durationMs: 7_200_000, timezone: 'Europe/Berlin' },
    };

    it('keeps a plan and starts in its first phase', async () => {
      const created = await store.rollouts.create({
        id: 'p1',
        releaseId: hex64(1),
        classId: 'gateway',
        plan,
        now: at(10),
      });
      expect(created.plan).toEqual(plan);
      expect(created.currentPhase).toBe(0);
      expect(created.phaseStartedAt).toBe(at(10).toISOString());
    });

    it('reaches the whole class at once without a plan', async () => {
      const created = await store.rollouts.create({
        id: 'p2',
        releaseId: hex64(1),
        classId: 'gateway',
        now: at(10),
      });
      expect(created.plan.phases).toEqual([{ percent: 100, minSoakMs: 0 }]);
    });

    it('refuses a plan a rollout cannot follow, storing nothing', async () => {
      const bad = { ...plan, phases: [{ percent: 50, minSoakMs: 0 }] };
      await expect(
        store.rollouts.create({
          id: 'p3',
          releaseId: hex64(1),
          classId: 'gateway',
          plan: bad,
          now: at(10),
        }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(await store.rollouts.get('p3')).toBeUndefined();
    });

    it('advances a phase once, however many replicas try', async () => {
      await store.rollouts.create({
        id: 'p4',
        releaseId: hex64(1),
        classId: 'gateway',
        plan,
        now: at(10),
      });
      const tries = await Promise.all(
        [1, 2, 3].map(() => store.rollouts.advancePhase('p4', 0, at(20))),
      );
      expect(tries.filter(Boolean)).toHaveLength(1);
      const after = await store.rollouts.get('p4');
      expect(after?.currentPhase).toBe(1);
      expect(after?.phaseStartedAt).toBe(at(20).toISOString());
    });

    it('does not advance a paused rollout, and says why it paused itself until resumed', async () => {
      await store.rollouts.create({
        id: 'p5',
        releaseId: hex64(1),
        classId: 'gateway',
        plan,
        now: at(10),
      });
      expect(
        await store.rollouts.pauseBySelf('p5', '3 of 20 failed (15 %, above 5 %)', at(11)),
      ).toBe(true);
      expect(await store.rollouts.pauseBySelf('p5', 'again', at(12))).toBe(false);
      expect(await store.rollouts.advancePhase('p5', 0, at(13))).toBe(false);
      expect((await store.rollouts.get('p5'))?.pauseReason).toBe(
        '3 of 20 failed (15 %, above 5 %)',
      );
      const { rollout: resumed } = await store.rollouts.setState(
        'p5',
        'active',
        ['paused'],
        at(14),
      );
      expect(resumed.pauseReason).toBe('');
      expect(resumed.currentPhase).toBe(0);
    });
  });
});
