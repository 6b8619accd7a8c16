// Tells this replica's Watch hub about fleet changes: at once for a change
// made here (announce), and by reading the change log every interval for
// changes made through any replica sharing the database. Each change wakes
// its devices once, however it was heard of, and makes this replica read
// active rollouts afresh.
import type { Logger } from 'pino';
import type { FleetChange, Store } from '../store/index.js';
import type { WatchHub } from './hub.js';

export interface ChangeFeedOptions {
  readonly store: Store;
  readonly hub: Pick<WatchHub, 'notify'>;
  readonly now: () => Date;
  readonly log: Logger;
}

export interface ChangeFeed {
  // announce wakes the devices of a change this replica committed.
  announce(change: FleetChange): void;
  // poll reads the change log once now; it returns how many new changes it found.
  poll(): Promise<number>;
  // start polls every intervalMs (a read never overlaps the one before) until stop().
  start(intervalMs: number): void;
  // stop ends the polling after the read in flight, if any.
  stop(): Promise<void>;
}

// Each read looks this far behind the previous one, so that a change is seen
// even if it committed a while after the time it carries, or was stamped by a
// replica whose clock runs behind this one's. Changes seen already are skipped.
export const changeFeedLookbackMs = 10_000;
// Rows read at most per query; a read pages through more.
const pageSize = 500;

// createChangeFeed makes a feed that reads changes from its creation on.
export function createChangeFeed(options: ChangeFeedOptions): ChangeFeed {
  const { store, hub, log } = options;
  // Changes already announced, by id, with when they were made (ms).
  const seen = new Map<number, number>();
  // Where the next read starts: the previous read's start, less the lookback.
  let readFrom = options.now().getTime() - changeFeedLookbackMs;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();

  const announce = (change: FleetChange): boolean => {
    if (seen.has(change.id)) return false;
    seen.set(change.id, Date.parse(change.at));
    // What this replica read of rollouts (offers.ts) may predate the change:
    // read again, instead of waiting out cache_ttl.
    store.changes.rollouts++;
    hub.notify({ classId: change.classId, deviceId: change.deviceId });
    return true;
  };

  const poll = async (): Promise<number> => {
    const startedAt = options.now().getTime();
    let found = 0;
    let afterId = 0;
    for (;;) {
      const page = await store.fleetChanges.since(new Date(readFrom), pageSize, afterId);
      for (const change of page) if (announce(change)) found++;
      if (page.length < pageSize) break;
      afterId = page[page.length - 1]?.id ?? afterId;
    }
    readFrom = startedAt - changeFeedLookbackMs;
    for (const [id, at] of seen) if (at < readFrom) seen.delete(id);
    return found;
  };

  return {
    announce(change) {
      announce(change);
    },
    poll() {
      const read = poll();
      inFlight = read.catch(() => undefined);
      return read;
    },
    start(intervalMs) {
      const schedule = () => {
        if (stopped) return;
        timer = setTimeout(() => {
          const read = poll();
          inFlight = read.catch(() => undefined);
          read
            .catch((error: unknown) =>
              log.warn({ err: error }, 'watch: cannot read the fleet change log; trying again'),
            )
            .finally(schedule);
        }, intervalMs);
        timer.unref();
      };
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
