// What every service handler gets: the stores, the config, a clock, a log,
// and the Watch streams with the way to wake them.
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';
import type { PayloadStore } from './payloads/payload-store.js';
import type { FleetChange, Store } from './store/index.js';
import type { TimestampSigner } from './timestamp-key.js';
import type { WatchHub } from './watch/hub.js';

export interface ServerContext {
  readonly store: Store;
  readonly payloads: PayloadStore;
  readonly config: ServerConfig;
  // Signs each check-in's freshness statement.
  readonly timestamp: TimestampSigner;
  readonly now: () => Date;
  readonly log: Logger;
  // This replica's Watch streams.
  readonly watch: WatchHub;
  // Wakes the devices of a fleet change, once it has committed; every replica
  // also reads it from the change log (store.fleetChanges).
  readonly announce: (change: FleetChange) => void;
}
