// The change feed against real stores: a replica hears of a change made
// through another replica sharing its database, each change wakes its
// devices once however it was heard of, and a change that commits late (or
// stamped by a clock behind this one) is still heard of.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/server/store/index.js';
import { createChangeFeed } from '../../../src/server/watch/change-feed.js';
import type { WatchScope } from '../../../src/server/watch/hub.js';
import {
  type Backend,
  forEachBackend,
  openTempStore,
  type TempStore,
} from '../store/temp-store.js';

const log = pino({ level: 'silent' });
let temp: TempStore;
// A second replica's connection to the same database file.
let other: Store;

// feedOn reads `store`'s change log into a list of the scopes it woke.
function feedOn(store: Store) {
  const woken: WatchScope[] = [];
  const feed = createChangeFeed({
    store,
    hub: { notify: (scope) => woken.push(scope) },
    now: () => new Date(),
    log,
  });
  return { feed, woken };
}

forEachBackend((backend: Backend) => {
  beforeEach(async () => {
    temp = await openTempStore(backend);
    other = await temp.openAnother();
  });
  afterEach(async () => {
    await temp.cleanup();
  });

  describe('fleet change feed', () => {
    it('wakes the devices of a change made through another replica', async () => {
      const { feed, woken } = feedOn(other);
      await temp.store.fleetChanges.record({ classId: 'gw', now: new Date() });
      await temp.store.fleetChanges.record({ classId: 'gw', deviceId: 'd1', now: new Date() });
      expect(await feed.poll()).toBe(2);
      expect(woken).toEqual([
        { classId: 'gw', deviceId: null },
        { classId: 'gw', deviceId: 'd1' },
      ]);
      expect(await feed.poll()).toBe(0);
    });

    it('makes the replica read active rollouts afresh when it hears of a change made elsewhere', async () => {
      const { feed } = feedOn(other);
      const before = other.changes.rollouts;
      await temp.store.fleetChanges.record({ classId: 'gw', now: new Date() });
      expect(other.changes.rollouts).toBe(before);
      await feed.poll();
      expect(other.changes.rollouts).toBeGreaterThan(before);
    });

    it('wakes once for a change it announced itself and then reads from the log', async () => {
      const { feed, woken } = feedOn(temp.store);
      const change = await temp.store.fleetChanges.record({ classId: 'gw', now: new Date() });
      feed.announce(change);
      feed.announce(change);
      expect(await feed.poll()).toBe(0);
      expect(woken).toHaveLength(1);
    });

    it('hears of a change stamped a few seconds before its previous read', async () => {
      const { feed, woken } = feedOn(other);
      await feed.poll();
      // Committed after that read, by a replica whose clock is 5 s behind.
      await temp.store.fleetChanges.record({
        classId: 'gw',
        now: new Date(Date.now() - 5_000),
      });
      expect(await feed.poll()).toBe(1);
      expect(woken).toEqual([{ classId: 'gw', deviceId: null }]);
    });

    it('ignores changes made long before it started', async () => {
      await temp.store.fleetChanges.record({ classId: 'gw', now: new Date(Date.now() - 60_000) });
      const { feed } = feedOn(other);
      expect(await feed.poll()).toBe(0);
    });

    it('reads every change of a burst larger than one page', async () => {
      const { feed, woken } = feedOn(other);
      for (let i = 0; i < 520; i++)
        await temp.store.fleetChanges.record({ classId: 'gw', deviceId: `d${i}`, now: new Date() });
      expect(await feed.poll()).toBe(520);
      expect(new Set(woken.map((w) => w.deviceId)).size).toBe(520);
    });

    it('polls on its own every interval until stopped', async () => {
      const { feed, woken } = feedOn(other);
      feed.start(50);
      await temp.store.fleetChanges.record({ classId: 'gw', now: new Date() });
      const until = Date.now() + 2_000;
      while (woken.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await feed.stop();
      expect(woken).toHaveLength(1);
    });

    it('prunes changes older than an hour when it records one', async () => {
      await temp.store.fleetChanges.record({
        classId: 'gw',
        now: new Date(Date.now() - 7_200_000),
      });
      await temp.store.fleetChanges.record({ classId: 'gw', now: new Date() });
      expect(await temp.store.fleetChanges.since(new Date(0), 10)).toHaveLength(1);
    });
  });
});
