// The metadata store: one repository per aggregate over one Kysely database,
// and transactions that span several of them.
import type { Kysely } from 'kysely';
import { InvariantError } from '../../errors.js';
import { type AuditRepository, createAuditRepository } from './audit.js';
import { createStoreChanges, type StoreChanges } from './changes.js';
import { whenDurable } from './database.js';
import { createDeploymentRepository, type DeploymentRepository } from './deployments.js';
import { createDeviceRepository, type DeviceRepository } from './devices.js';
import { createFleetChangeRepository, type FleetChangeRepository } from './fleet-changes.js';
import { createPayloadRepository, type PayloadRepository } from './payloads.js';
import { createReleaseRepository, type ReleaseRepository } from './releases.js';
import { createRolloutRepository, type RolloutRepository } from './rollouts.js';
import type { Database } from './schema.js';
import { storeError } from './store-error.js';
import { createTokenRepository, type TokenRepository } from './tokens.js';
import { createTrustRootRepository, type TrustRootRepository } from './trust-roots.js';

export type { AuditEntry } from './audit.js';
export type { StoreChanges } from './changes.js';
export {
  type DatabaseLocation,
  type OpenDatabaseOptions,
  openDatabase,
  whenDurable,
} from './database.js';
export type {
  DeploymentEvent,
  DeploymentSummary,
  StoredDeployment,
  Transition,
} from './deployments.js';
export type { Authentication, CheckIn, StoredDevice } from './devices.js';
export type { FleetChange } from './fleet-changes.js';
export type { StoredPayload } from './payloads.js';
export type { NewRelease, PayloadRef, StoredRelease } from './releases.js';
export type { ActiveRollout, RolloutSummary, StoredRollout } from './rollouts.js';
export type { Admission, ApiRole, Database, RolloutState, Slot } from './schema.js';
export { storeError } from './store-error.js';
export type { ApiTokenIdentity } from './tokens.js';
export type { StoredTrustRoot } from './trust-roots.js';

export interface Store {
  readonly db: Kysely<Database>;
  readonly tokens: TokenRepository;
  readonly trustRoots: TrustRootRepository;
  readonly payloads: PayloadRepository;
  readonly releases: ReleaseRepository;
  readonly rollouts: RolloutRepository;
  readonly devices: DeviceRepository;
  readonly deployments: DeploymentRepository;
  readonly audit: AuditRepository;
  readonly fleetChanges: FleetChangeRepository;
  // This process's writes, counted for the caches in front of the store.
  readonly changes: StoreChanges;
  // Runs fn with a store bound to one transaction: all its writes commit
  // together or, if fn throws, none do. Inside fn use only the store passed
  // in: on SQLite the outer store waits for the transaction (one connection),
  // on PostgreSQL it uses another connection and may wait on its row locks.
  transaction<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  // Resolves once every commit so far is on stable storage (a write waits
  // for its own; this is for replies built from what others wrote).
  durable(): Promise<void>;
  // Closes the database; the store is unusable afterwards.
  close(): Promise<void>;
}

// createStore builds every repository over `db` (inside a transaction, with
// the change counts of the store that began it).
export function createStore(
  db: Kysely<Database>,
  changes: StoreChanges = createStoreChanges(),
): Store {
  const store: Store = {
    db,
    tokens: createTokenRepository(db, changes),
    trustRoots: createTrustRootRepository(db, changes),
    payloads: createPayloadRepository(db),
    releases: createReleaseRepository(db),
    rollouts: createRolloutRepository(db, changes),
    devices: createDeviceRepository(db, changes),
    deployments: createDeploymentRepository(db),
    audit: createAuditRepository(db),
    fleetChanges: createFleetChangeRepository(db),
    changes,
    async transaction(fn) {
      // Already inside one: Kysely cannot nest, and joining it is what the caller means.
      if (db.isTransaction) return fn(store);
      try {
        return await db.transaction().execute((trx) => fn(createStore(trx, changes)));
      } catch (error) {
        throw storeError(error, 'transaction');
      }
    },
    durable: () => whenDurable(db),
    async close() {
      if (db.isTransaction)
        throw new InvariantError('close() called on a store bound to a transaction');
      try {
        await store.devices.stopSeen();
      } finally {
        await db.destroy();
      }
    },
  };
  return store;
}
