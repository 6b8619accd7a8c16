// What every service handler gets: the stores, the config, a clock and a log.
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';
import type { PayloadStore } from './payloads/payload-store.js';
import type { Store } from './store/index.js';
import type { TimestampSigner } from './timestamp-key.js';

export interface ServerContext {
  readonly store: Store;
  readonly payloads: PayloadStore;
  readonly config: ServerConfig;
  // Signs each check-in's freshness statement.
  readonly timestamp: TimestampSigner;
  readonly now: () => Date;
  readonly log: Logger;
}
