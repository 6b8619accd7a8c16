import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import type { Store, Transition } from '../../../src/server/store/index.js';
import { at, forEachBackend, hex64, openTempStore, publish, type TempStore } from './temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
    for (const id of ['dev1', 'dev2']) {
      await store.devices.recordAuthentication({
        id,
        publicKey: new Uint8Array(32),
        classId: 'gateway',
        admissionIfNew: 'accepted',
        timestampMs: 1,
        now: at(0),
      });
    }
    await publish(store, { id: hex64(1), sequence: 1 });
    await publish(store, { id: hex64(2), sequence: 2 });
    await store.rollouts.create({ id: 'r1', releaseId: hex64(1), classId: 'gateway', now: at(0) });
  });
  afterEach(async () => temp.cleanup());

  let sequence = 0;
  const step = (state: string, finished = false, extra: Partial<Transition> = {}): Transition => ({
    sequence: ++sequence,
    state,
    bytesDone: 0,
    bytesTotal: 100,
    errorCode: '',
    message: '',
    logTail: '',
    finished,
    ...extra,
  });

  describe('deployments', () => {
    it('an offer is recorded with its first event', async () => {
      const created = await store.deployments.create({
        id: 'x1',
        deviceId: 'dev1',
        releaseId: hex64(1),
        rolloutId: 'r1',
        bytesTotal: 100,
        now: at(10),
      });
      expect(created).toMatchObject({
        id: 'x1',
        state: 'offered',
        bytesDone: 0,
        bytesTotal: 100,
        rolloutId: 'r1',
        finishedAt: null,
      });
      expect(await store.deployments.find('dev1', hex64(1))).toEqual(created);
      expect((await store.deployments.events('x1')).map((e) => e.state)).toEqual(['offered']);
    });

    it('a device is offered each release only once', async () => {
      await store.deployments.create({
        id: 'x1',
        deviceId: 'dev1',
        releaseId: hex64(1),
        rolloutId: 'r1',
        bytesTotal: 100,
        now: at(10),
      });
      const error = await store.deployments
        .create({
          id: 'x2',
          deviceId: 'dev1',
          releaseId: hex64(1),
          rolloutId: null,
          bytesTotal: 100,
          now: at(11),
        })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'ALREADY_EXISTS')).toBe(true);
      expect(await store.deployments.get('x2')).toBeUndefined();
      expect(await store.deployments.events('x2')).toEqual([]);
    });

    it('each reported state updates the deployment and lands in its history', async () => {
      await store.deployments.create({
        id: 'x1',
        deviceId: 'dev1',
        releaseId: hex64(1),
        rolloutId: 'r1',
        bytesTotal: 100,
        now: at(10),
      });
      await store.deployments.transition(
        'x1',
        step('downloading', false, { bytesDone: 50 }),
        at(11),
      );
      expect(await store.deployments.openForDevice('dev1')).toHaveLength(1);
      const done = await store.deployments.transition(
        'x1',
        step('failed', true, {
          bytesDone: 100,
          errorCode: 'DIGEST_MISMATCH',
          message: 'bad',
          logTail: 'tail',
        }),
        at(12),
      );
      expect(done.recorded).toBe(true);
      expect(done.deployment).toMatchObject({
        state: 'failed',
        bytesDone: 100,
        errorCode: 'DIGEST_MISMATCH',
        message: 'bad',
        logTail: 'tail',
        finishedAt: at(12).toISOString(),
        updatedAt: at(12).toISOString(),
      });
      expect(await store.deployments.openForDevice('dev1')).toEqual([]);
      const events = await store.deployments.events('x1');
      expect(events.map((e) => [e.state, e.errorCode, e.at])).toEqual([
        ['offered', '', at(10).toISOString()],
        ['downloading', '', at(11).toISOString()],
        ['failed', 'DIGEST_MISMATCH', at(12).toISOString()],
      ]);
    });

    it('survives a replayed device report: a sequence at or below the last recorded changes nothing', async () => {
      await store.deployments.create({
        id: 'x3',
        deviceId: 'dev2',
        releaseId: hex64(2),
        rolloutId: 'r1',
        bytesTotal: 100,
        now: at(10),
      });
      const downloading = step('downloading', false, { bytesDone: 10 });
      expect((await store.deployments.transition('x3', downloading, at(11))).recorded).toBe(true);
      const committed = step('committed', true, { bytesDone: 100 });
      expect((await store.deployments.transition('x3', committed, at(12))).recorded).toBe(true);
      // The recorded "downloading" report again, and the commit retried.
      const replay = await store.deployments.transition('x3', downloading, at(13));
      expect(replay.recorded).toBe(false);
      expect(replay.deployment.state).toBe('committed');
      expect((await store.deployments.transition('x3', committed, at(14))).recorded).toBe(false);
      const events = await store.deployments.events('x3');
      expect(events.map((e) => e.state)).toEqual(['offered', 'downloading', 'committed']);
      expect((await store.deployments.get('x3'))?.updatedAt).toBe(at(12).toISOString());
    });

    it('a transition of an unknown deployment is NOT_FOUND and records nothing', async () => {
      const error = await store.deployments
        .transition('ghost', step('downloading'), at(1))
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
      expect(await store.deployments.events('ghost')).toEqual([]);
    });

    it('lists each device its deployments newest first, with the release version', async () => {
      await store.deployments.create({
        id: 'x1',
        deviceId: 'dev1',
        releaseId: hex64(1),
        rolloutId: 'r1',
        bytesTotal: 100,
        now: at(10),
      });
      await store.deployments.create({
        id: 'x2',
        deviceId: 'dev1',
        releaseId: hex64(2),
        rolloutId: null,
        bytesTotal: 100,
        now: at(20),
      });
      const byDevice = await store.deployments.listForDevices(['dev1', 'dev2', 'dev1']);
      expect(byDevice.get('dev1')?.map((d) => [d.id, d.version])).toEqual([
        ['x2', '1.2.0'],
        ['x1', '1.1.0'],
      ]);
      expect(byDevice.get('dev2')).toEqual([]);
      expect((await store.deployments.listForDevices([])).size).toBe(0);
    });
  });
});
