// Replicas sharing one PostgreSQL database, each with its own connection
// pool as separate processes would have: the database, not the memory of
// either, decides every race, under PostgreSQL's default READ COMMITTED.
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tickOnce } from '../../../src/server/rollouts/control-loop.js';
import type { RolloutPlan } from '../../../src/server/rollouts/plan.js';
import type { Store, Transition } from '../../../src/server/store/index.js';
import { postgresSkipReason } from '../../support/postgres.js';
import { at, hex64, openTempStore, publish, type TempStore } from './temp-store.js';

const rounds = 20;
const plan: RolloutPlan = {
  phases: [
    { percent: 10, minSoakMs: 1000 },
    { percent: 100, minSoakMs: 0 },
  ],
  tags: [],
  groups: [],
  deviceIds: [],
  threshold: { kind: 'count', count: 1000 },
  window: undefined,
};

const report = (sequence: number, state: string): Transition => ({
  sequence,
  state,
  bytesDone: 0,
  bytesTotal: 100,
  errorCode: '',
  message: '',
  logTail: '',
  finished: false,
});

describe.skipIf(postgresSkipReason() !== undefined)('two replicas on one PostgreSQL', () => {
  let temp: TempStore;
  let one: Store;
  let two: Store;

  beforeEach(async () => {
    temp = await openTempStore('postgres');
    one = temp.store;
    two = await temp.openAnother();
    await publish(one, { id: hex64(1), sequence: 1 });
    // Both pools connected before the races start, so neither lags by a login.
    await Promise.all([one.releases.get(hex64(1)), two.releases.get(hex64(1))]);
  });
  afterEach(async () => temp.cleanup());

  it('advancing one rollout phase at once, exactly one replica wins, every time', async () => {
    for (let round = 0; round < rounds; round++) {
      const id = `r${round}`;
      await one.rollouts.create({ id, releaseId: hex64(1), classId: 'gateway', plan, now: at(0) });
      const won = await Promise.all(
        [one, two, one, two].map((replica) => replica.rollouts.advancePhase(id, 0, at(round))),
      );
      expect(won.filter(Boolean)).toHaveLength(1);
      expect((await two.rollouts.get(id))?.currentPhase).toBe(1);
    }
  });

  it('recording one device report at once, it is recorded once with one event', async () => {
    await one.devices.recordAuthentication({
      id: 'dev1',
      publicKey: new Uint8Array(32),
      classId: 'gateway',
      admissionIfNew: 'accepted',
      timestampMs: 1,
      now: at(0),
    });
    await one.deployments.create({
      id: 'd1',
      deviceId: 'dev1',
      releaseId: hex64(1),
      rolloutId: null,
      bytesTotal: 100,
      now: at(0),
    });
    for (let sequence = 1; sequence <= rounds; sequence++) {
      const results = await Promise.all(
        [one, two].map((replica) =>
          replica.deployments.transition('d1', report(sequence, `step${sequence}`), at(sequence)),
        ),
      );
      expect(results.filter((result) => result.recorded)).toHaveLength(1);
    }
    const events = await two.deployments.events('d1');
    expect(events.map((event) => event.state)).toEqual([
      'offered',
      ...Array.from({ length: rounds }, (_, i) => `step${i + 1}`),
    ]);
    expect((await one.deployments.get('d1'))?.reportSequence).toBe(rounds);
  });

  it('ticking their rollout controllers at once, one phase advance is made and audited', async () => {
    await one.rollouts.create({
      id: 'r1',
      releaseId: hex64(1),
      classId: 'gateway',
      plan,
      now: at(0),
    });
    const log = pino({ level: 'silent' });
    const applied = await Promise.all(
      [one, two, one, two].map((store) =>
        tickOnce({ store, log, now: () => at(1), silentAfterMs: 15 * 60_000 }),
      ),
    );
    expect(applied.flat()).toHaveLength(1);
    expect((await one.audit.list({ limit: 10 })).map((entry) => entry.action)).toEqual([
      'rollout.advance',
    ]);
  });

  it('authenticating one device with one timestamp at once, only one passes', async () => {
    const auth = (timestampMs: number) => ({
      id: 'dev2',
      publicKey: new Uint8Array(32).fill(2),
      classId: 'gateway',
      admissionIfNew: 'pending' as const,
      timestampMs,
      now: at(0),
    });
    for (let round = 1; round <= rounds; round++) {
      const results = await Promise.all(
        [one, two, one, two].map((replica) => replica.devices.recordAuthentication(auth(round))),
      );
      expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    }
  });

  it('spending one enrolment token at once, no more devices enrol than it has uses', async () => {
    const { token } = await one.tokens.createEnrolmentToken({
      classId: 'gateway',
      uses: 3,
      ttlMs: 60_000,
      createdBy: 'test',
      now: at(0),
    });
    const spent = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? one : two).tokens.useEnrolmentToken(token, 'gateway', at(1)),
      ),
    );
    expect(spent.filter((id) => id !== undefined)).toHaveLength(3);
  });
});
