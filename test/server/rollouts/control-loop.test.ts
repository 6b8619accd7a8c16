// The rollout controller against a real store: phases advance after their
// soak and only then, a rollout past its failure threshold pauses itself
// before it widens, and two replicas ticking at once change and audit once.
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controllerActor, tickOnce } from '../../../src/server/rollouts/control-loop.js';
import type { RolloutPlan } from '../../../src/server/rollouts/plan.js';
import type { Store } from '../../../src/server/store/index.js';
import {
  at,
  forEachBackend,
  hex64,
  openTempStore,
  publish,
  type TempStore,
} from '../store/temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;
  const log = pino({ level: 'silent' });

  const hour = 3_600_000;
  const plan: RolloutPlan = {
    phases: [
      { percent: 10, minSoakMs: hour },
      { percent: 50, minSoakMs: hour },
      { percent: 100, minSoakMs: 0 },
    ],
    tags: [],
    groups: [],
    deviceIds: [],
    threshold: { kind: 'count', count: 2 },
    window: undefined,
  };

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
    await publish(store, { id: hex64(1), sequence: 1 });
    await store.rollouts.create({
      id: 'r1',
      releaseId: hex64(1),
      classId: 'gateway',
      plan,
      now: at(0),
    });
  });
  afterEach(async () => temp.cleanup());

  const silentAfterMs = 15 * 60_000;
  const tick = (seconds: number) => tickOnce({ store, log, now: () => at(seconds), silentAfterMs });

  // finishOn gives device `id` a deployment of `release` in `rolloutId` that
  // ends in `state`.
  async function finishOn(
    id: string,
    release: { releaseId: string; rolloutId: string },
    state: 'committed' | 'failed' | 'rolled_back',
  ) {
    await store.devices.recordAuthentication({
      id,
      publicKey: new Uint8Array(32),
      classId: 'gateway',
      admissionIfNew: 'accepted',
      timestampMs: 1,
      now: at(0),
    });
    const deploymentId = `${release.rolloutId}-${id}`;
    await store.deployments.create({
      id: deploymentId,
      deviceId: id,
      ...release,
      bytesTotal: 100,
      now: at(1),
    });
    await store.deployments.transition(
      deploymentId,
      {
        sequence: 1,
        state,
        bytesDone: 100,
        bytesTotal: 100,
        errorCode: state === 'committed' ? '' : 'HEALTH_CHECK_FAILED',
        message: '',
        logTail: '',
        finished: true,
      },
      at(2),
    );
  }

  // finish gives `n` new devices a deployment of r1 ending in `state`.
  let devices = 0;
  async function finish(n: number, state: 'committed' | 'failed' | 'rolled_back') {
    for (let i = 0; i < n; i++)
      await finishOn(`dev${++devices}`, { releaseId: hex64(1), rolloutId: 'r1' }, state);
  }

  describe('the rollout controller', () => {
    it('advances a phase only once it has soaked, and records who did it', async () => {
      expect(await tick(3599)).toEqual([]);
      expect((await store.rollouts.get('r1'))?.currentPhase).toBe(0);
      expect(await tick(3600)).toEqual([
        { rolloutId: 'r1', decision: { kind: 'advance', from: 0 } },
      ]);
      const after = await store.rollouts.get('r1');
      expect(after?.currentPhase).toBe(1);
      expect(after?.phaseStartedAt).toBe(at(3600).toISOString());
      // The next phase soaks from when it started, not from the rollout's start.
      expect(await tick(7199)).toEqual([]);
      expect(await tick(7200)).toHaveLength(1);
      // The last phase reaches everyone; there is nothing after it.
      expect(await tick(99_999)).toEqual([]);
      expect((await store.rollouts.get('r1'))?.currentPhase).toBe(2);
      const audit = (await store.audit.list({ limit: 10 })).reverse();
      expect(audit.map((e) => [e.actor, e.action, e.subject, e.detail])).toEqual([
        [controllerActor, 'rollout.advance', 'r1', { phase: 2, percent: 50 }],
        [controllerActor, 'rollout.advance', 'r1', { phase: 3, percent: 100 }],
      ]);
    });

    it('pauses a rollout past its failure threshold instead of widening it, and says why', async () => {
      await finish(3, 'committed');
      await finish(1, 'failed');
      await finish(1, 'rolled_back');
      const applied = await tick(3600);
      expect(applied).toEqual([
        {
          rolloutId: 'r1',
          decision: {
            kind: 'pause',
            reason: '2 deployments failed or rolled back, at the limit of 2',
          },
        },
      ]);
      const paused = await store.rollouts.get('r1');
      expect(paused).toMatchObject({ state: 'paused', currentPhase: 0 });
      expect(paused?.pauseReason).toContain('2 deployments failed');
      // Paused, it neither advances nor pauses again.
      expect(await tick(99_999)).toEqual([]);
      const audit = await store.audit.list({ limit: 10 });
      expect(audit.map((e) => e.action)).toEqual(['rollout.self_pause']);
      expect(audit[0]?.detail).toEqual({ reason: paused?.pauseReason });
    });

    it('changes and audits once when two replicas tick at the same moment', async () => {
      const results = await Promise.all([tick(3600), tick(3600), tick(3600)]);
      expect(results.flat()).toHaveLength(1);
      expect((await store.rollouts.get('r1'))?.currentPhase).toBe(1);
      expect((await store.audit.list({ limit: 10 })).map((e) => e.action)).toEqual([
        'rollout.advance',
      ]);
    });

    it('leaves paused and aborted rollouts alone', async () => {
      await store.rollouts.setState('r1', 'paused', ['active'], at(5));
      expect(await tick(99_999)).toEqual([]);
      await store.rollouts.setState('r1', 'aborted', ['paused'], at(6));
      expect(await tick(99_999)).toEqual([]);
      expect((await store.rollouts.get('r1'))?.currentPhase).toBe(0);
    });

    it('pauses a rollout whose committed devices turn unhealthy after their commit, and says why', async () => {
      await publish(store, { id: hex64(9), sequence: 9 });
      await store.rollouts.create({
        id: 'watched',
        releaseId: hex64(9),
        classId: 'gateway',
        plan: {
          ...plan,
          threshold: undefined,
          healthWatch: {
            watchMs: 86_400_000,
            maxRestarts: 3,
            threshold: { kind: 'count', count: 2 },
          },
        },
        now: at(0),
      });
      await store.rollouts.setState('r1', 'paused', ['active'], at(0));
      const commitOn = async (id: string, health: { checksFailed?: number; restarts?: number }) => {
        await finishOn(id, { releaseId: hex64(9), rolloutId: 'watched' }, 'committed');
        await store.devices.recordCheckIn(
          id,
          {
            bootedSlot: 'B',
            installedVersion: '1.9.0',
            committedSequence: 9,
            trustRootVersion: 1,
            agentState: 'idle',
            inventory: {},
            health: {
              committedAt: at(2).toISOString(),
              restarts: health.restarts ?? 0,
              checksRun: 4,
              checksFailed: health.checksFailed ?? 0,
              lastFailure: '',
            },
          },
          at(100),
        );
      };
      await commitOn('healthy', {});
      await commitOn('failing', { checksFailed: 1 });
      expect(await tick(200)).toEqual([]);
      await commitOn('crashing', { restarts: 4 });
      const [applied] = await tick(300);
      expect(applied?.decision).toEqual({
        kind: 'pause',
        reason:
          'post-commit health: 2 of 3 devices watched after their commit turned unhealthy (0 lost contact, 1 failed periodic health checks, 1 restarted the agent more than 3 times), at the limit of 2',
      });
      expect((await store.rollouts.get('watched'))?.state).toBe('paused');
    });

    it('logs a phase advance as a fleet change and tells this replica at once; a pause is none', async () => {
      const heard: unknown[] = [];
      const advance = () =>
        tickOnce({
          store,
          log,
          now: () => at(3600),
          silentAfterMs,
          onChange: (c) => heard.push(c),
        });
      expect(await advance()).toHaveLength(1);
      const logged = await store.fleetChanges.since(new Date(0), 10);
      expect(logged).toEqual([
        { id: expect.any(Number), at: at(3600).toISOString(), classId: 'gateway', deviceId: null },
      ]);
      expect(heard).toEqual(logged);
      await finish(2, 'failed');
      expect((await tick(99_999))[0]?.decision.kind).toBe('pause');
      expect(await store.fleetChanges.since(new Date(0), 10)).toHaveLength(1);
      expect(heard).toHaveLength(1);
    });

    it('changes and audits once when two replicas tick at the same moment', async () => {
      const results = await Promise.all([tick(3600), tick(3600), tick(3600)]);
      expect(results.flat()).toHaveLength(1);
      expect((await store.rollouts.get('r1'))?.currentPhase).toBe(1);
      expect((await store.audit.list({ limit: 10 })).map((e) => e.action)).toEqual([
        'rollout.advance',
      ]);
    });
  });
});
