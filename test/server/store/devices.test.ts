import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import { openDatabase } from '../../../src/server/store/database.js';
import { noHealth } from '../../../src/server/store/devices.js';
import { createStore, type Store } from '../../../src/server/store/index.js';
import { at, forEachBackend, openTempStore, type TempStore } from './temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
  });
  afterEach(async () => temp.cleanup());

  const key = new Uint8Array(32).fill(7);
  const auth = (timestampMs: number, now = at(timestampMs)) => ({
    id: 'dev1',
    publicKey: key,
    classId: 'gateway',
    admissionIfNew: 'pending' as const,
    timestampMs,
    now,
  });

  describe('device authentication', () => {
    it('a new device is registered with the admission policy and its first timestamp', async () => {
      const { device, created, replayed } = await store.devices.recordAuthentication(auth(1000));
      expect({ created, replayed }).toEqual({ created: true, replayed: false });
      expect(device).toMatchObject({
        id: 'dev1',
        publicKey: key,
        classId: 'gateway',
        admission: 'pending',
        lastAuthMs: 1000,
        inventory: {},
        bootedSlot: null,
      });
    });

    it('a replayed device authentication timestamp is refused', async () => {
      await store.devices.recordAuthentication(auth(1000));
      const again = await store.devices.recordAuthentication(auth(1000, at(5000)));
      expect(again.replayed).toBe(true);
      expect(again.device.lastAuthMs).toBe(1000);
      expect(again.device.lastSeenAt).toBe(at(1000).toISOString());
    });

    it('an older timestamp is refused and a newer one raises the mark', async () => {
      await store.devices.recordAuthentication(auth(1000));
      expect((await store.devices.recordAuthentication(auth(999))).replayed).toBe(true);
      const fresh = await store.devices.recordAuthentication(auth(1001));
      expect(fresh).toMatchObject({
        created: false,
        replayed: false,
        device: { lastAuthMs: 1001 },
      });
    });

    it('concurrent authentications with one timestamp cannot both pass', async () => {
      await store.devices.recordAuthentication(auth(1000));
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.devices.recordAuthentication(auth(2000))),
      );
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    });

    it('the high-water mark is in the database, not in one connection', async () => {
      await store.devices.recordAuthentication(auth(1000));
      await store.close();
      const reopened = createStore(await openDatabase(temp.location));
      try {
        expect((await reopened.devices.recordAuthentication(auth(1000))).replayed).toBe(true);
      } finally {
        await reopened.close();
      }
    });

    it('a known device keeps its admission whatever the policy says now', async () => {
      await store.devices.recordAuthentication(auth(1000));
      await store.devices.setAdmission('dev1', 'rejected', at(2000));
      const { device } = await store.devices.recordAuthentication({
        ...auth(3000),
        admissionIfNew: 'accepted',
      });
      expect(device.admission).toBe('rejected');
    });

    it('an id registered with another key is refused', async () => {
      await store.devices.recordAuthentication(auth(1000));
      const error = await store.devices
        .recordAuthentication({ ...auth(2000), publicKey: new Uint8Array(32) })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'INVALID_ARGUMENT')).toBe(true);
      expect((await store.devices.get('dev1'))?.lastAuthMs).toBe(1000);
    });
  });

  describe('device state', () => {
    it('a check-in stores what the device reported', async () => {
      await store.devices.recordAuthentication(auth(1000));
      const device = await store.devices.recordCheckIn(
        'dev1',
        {
          bootedSlot: 'B',
          installedVersion: '1.2.0',
          committedSequence: 12,
          trustRootVersion: 2,
          agentState: 'idle',
          inventory: { kernel: '6.1' },
          health: {
            committedAt: at(1500).toISOString(),
            restarts: 2,
            checksRun: 7,
            checksFailed: 1,
            lastFailure: 'disk: read-only',
          },
        },
        at(2000),
      );
      expect(device).toMatchObject({
        bootedSlot: 'B',
        installedVersion: '1.2.0',
        committedSequence: 12,
        trustRootVersion: 2,
        agentState: 'idle',
        inventory: { kernel: '6.1' },
        lastSeenAt: at(2000).toISOString(),
        health: {
          committedAt: at(1500).toISOString(),
          restarts: 2,
          checksRun: 7,
          checksFailed: 1,
          lastFailure: 'disk: read-only',
        },
      });
    });

    it('check-ins arriving together are written in one batch, each answered with its own device', async () => {
      for (const id of ['dev3', 'dev1', 'dev2'])
        await store.devices.recordAuthentication({
          ...auth(1000),
          id,
          publicKey: new Uint8Array(32).fill(id.charCodeAt(3)),
        });
      const results = await Promise.all(
        ['dev3', 'dev1', 'dev2'].map((id) =>
          store.devices.recordCheckIn(
            id,
            {
              bootedSlot: 'A',
              installedVersion: `v-${id}`,
              committedSequence: 1,
              trustRootVersion: 1,
              agentState: 'idle',
              inventory: {},
              health: noHealth,
            },
            at(2000),
          ),
        ),
      );
      expect(results.map((d) => [d.id, d.installedVersion])).toEqual([
        ['dev3', 'v-dev3'],
        ['dev1', 'v-dev1'],
        ['dev2', 'v-dev2'],
      ]);
      for (const id of ['dev1', 'dev2', 'dev3'])
        expect((await store.devices.get(id))?.installedVersion).toBe(`v-${id}`);
    });

    describe('a check-in that reports nothing new', () => {
      const status = {
        bootedSlot: 'A' as const,
        installedVersion: '1.0.0',
        committedSequence: 1,
        trustRootVersion: 1,
        agentState: 'idle',
        inventory: { kernel: '6.1', board: 'x' },
        health: noHealth,
      };
      const stored = async () => (await temp.openAnother()).devices.get('dev1');

      it('is not written at once, and its time lands within a flush', async () => {
        await store.devices.recordAuthentication(auth(1000));
        await store.devices.recordCheckIn('dev1', status, at(2000));
        const updatedAt = (await store.devices.get('dev1'))?.updatedAt;
        const again = await store.devices.recordCheckIn('dev1', status, at(3000));
        expect(again.lastSeenAt).toBe(at(3000).toISOString());
        // The database still says 2000 until the buffer is flushed.
        expect((await store.devices.get('dev1'))?.lastSeenAt).toBe(at(2000).toISOString());
        await store.devices.flushSeen();
        const device = await store.devices.get('dev1');
        expect(device?.lastSeenAt).toBe(at(3000).toISOString());
        expect(device?.updatedAt).toBe(updatedAt);
      });

      it('a report that changes anything is written at once', async () => {
        await store.devices.recordAuthentication(auth(1000));
        await store.devices.recordCheckIn('dev1', status, at(2000));
        for (const [i, change] of [
          { agentState: 'downloading' },
          { inventory: { kernel: '6.2', board: 'x' } },
          { health: { ...noHealth, restarts: 1 } },
          { committedSequence: 2 },
        ].entries()) {
          await store.devices.recordCheckIn('dev1', { ...status, ...change }, at(3000 + i));
          expect(await stored()).toMatchObject({
            ...change,
            lastSeenAt: at(3000 + i).toISOString(),
          });
        }
      });

      it('never moves last_seen_at back past a later check-in written meanwhile', async () => {
        await store.devices.recordAuthentication(auth(1000));
        await store.devices.recordCheckIn('dev1', status, at(2000));
        await store.devices.recordCheckIn('dev1', status, at(3000));
        // Another replica writes a changed report, seen later.
        const other = await temp.openAnother();
        await other.devices.recordCheckIn('dev1', { ...status, agentState: 'busy' }, at(4000));
        await store.devices.flushSeen();
        expect((await store.devices.get('dev1'))?.lastSeenAt).toBe(at(4000).toISOString());
      });

      it('closing the store writes what was noted', async () => {
        const other = await temp.openAnother();
        await other.devices.recordAuthentication(auth(1000));
        await other.devices.recordCheckIn('dev1', status, at(2000));
        await other.devices.recordCheckIn('dev1', status, at(5000));
        await other.close();
        expect((await store.devices.get('dev1'))?.lastSeenAt).toBe(at(5000).toISOString());
      });
    });

    it('checking in or admitting an unknown device is NOT_FOUND', async () => {
      const status = {
        bootedSlot: null,
        installedVersion: '',
        committedSequence: 0,
        trustRootVersion: 0,
        agentState: '',
        inventory: {},
        health: noHealth,
      };
      expect(
        isPendulumError(
          await store.devices.recordCheckIn('ghost', status, at(0)).catch((e: unknown) => e),
          'NOT_FOUND',
        ),
      ).toBe(true);
      expect(
        isPendulumError(
          await store.devices.setAdmission('ghost', 'accepted', at(0)).catch((e: unknown) => e),
          'NOT_FOUND',
        ),
      ).toBe(true);
    });

    it('lists devices, optionally of one class', async () => {
      await store.devices.recordAuthentication(auth(1000));
      await store.devices.recordAuthentication({
        ...auth(1000, at(1001)),
        id: 'dev2',
        classId: 'camera',
      });
      expect((await store.devices.list()).map((d) => d.id)).toEqual(['dev1', 'dev2']);
      expect((await store.devices.list({ classId: 'camera' })).map((d) => d.id)).toEqual(['dev2']);
    });
  });

  describe('device labels', () => {
    it('starts with no tags or groups, and keeps what it is given, once each', async () => {
      const { device } = await store.devices.recordAuthentication(auth(1000));
      expect(device.tags).toEqual([]);
      expect(device.groups).toEqual([]);
      const labelled = await store.devices.setLabels(
        device.id,
        { tags: ['eu', 'beta', 'eu'], groups: ['lab'] },
        at(5),
      );
      expect(labelled.tags).toEqual(['eu', 'beta']);
      expect(labelled.groups).toEqual(['lab']);
      expect((await store.devices.list())[0]?.tags).toEqual(['eu', 'beta']);
    });

    it('refuses a label that is not one, changing nothing', async () => {
      const { device } = await store.devices.recordAuthentication(auth(1000));
      await store.devices.setLabels(device.id, { tags: ['eu'], groups: [] }, at(5));
      for (const bad of ['', 'a b', 'x'.repeat(65), 'ünïcode']) {
        await expect(
          store.devices.setLabels(device.id, { tags: [bad], groups: [] }, at(6)),
        ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      }
      expect((await store.devices.list())[0]?.tags).toEqual(['eu']);
    });

    it('labels only devices it knows', async () => {
      const error = await store.devices
        .setLabels('f'.repeat(64), { tags: [], groups: [] }, at(5))
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
    });
  });
});
