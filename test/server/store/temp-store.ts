// A fresh, migrated metadata database for each test, on each backend: a
// SQLite file in a new temp directory, or a new database on the run's test
// PostgreSQL server (see test/support/postgres-setup.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { type DatabaseLocation, openDatabase } from '../../../src/server/store/database.js';
import { createStore, type Store } from '../../../src/server/store/index.js';
import { createTempDatabase, postgresSkipReason } from '../../support/postgres.js';

export type Backend = 'sqlite' | 'postgres';

// Every backend the store runs on; each store test runs against all of them.
export const backends: readonly Backend[] = ['sqlite', 'postgres'];

// forEachBackend declares `suite` once per backend, under the backend's name.
// The PostgreSQL half is skipped only where the global setup found no server
// and said so loudly; under PENDULUM_TEST_STRICT=1 that fails the run instead.
export function forEachBackend(suite: (backend: Backend) => void): void {
  for (const backend of backends) {
    const skip = backend === 'postgres' && postgresSkipReason() !== undefined;
    (skip ? describe.skip : describe)(backend, () => suite(backend));
  }
}

export interface TempStore {
  readonly backend: Backend;
  readonly store: Store;
  // Where the database is, to open it again as another process would.
  readonly location: DatabaseLocation;
  // openAnother opens a second store on the same database, with its own
  // connections, as another replica would; cleanup() closes it.
  openAnother(): Promise<Store>;
  cleanup(): Promise<void>;
}

// openTempStore opens a migrated store on a new database of its own.
export async function openTempStore(backend: Backend = 'sqlite'): Promise<TempStore> {
  const target = await makeTempDatabase(backend, { migrated: true });
  const others: Store[] = [];
  let store: Store;
  try {
    store = createStore(await openDatabase(target.location));
  } catch (error) {
    await target.remove();
    throw error;
  }
  return {
    backend,
    store,
    location: target.location,
    async openAnother() {
      const other = createStore(await openDatabase(target.location));
      others.push(other);
      return other;
    },
    async cleanup() {
      for (const open of [store, ...others]) await open.close().catch(() => undefined);
      await target.remove();
    },
  };
}

// makeTempDatabase makes a database on `backend` and says how to remove it:
// empty, or where quicker (PostgreSQL) already migrated (`migrated`).
export async function makeTempDatabase(
  backend: Backend,
  options: { migrated?: boolean } = {},
): Promise<{ location: DatabaseLocation; remove: () => Promise<void> }> {
  if (backend === 'postgres') {
    const database = await createTempDatabase(options);
    return { location: { url: database.url }, remove: database.drop };
  }
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-store-'));
  return {
    location: { path: join(dir, 'metadata.db') },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

// at is a fixed clock reading, `seconds` after a reference instant.
export function at(seconds: number): Date {
  return new Date(Date.UTC(2026, 0, 1) + seconds * 1000);
}

// hex64 is a deterministic fake SHA-256 id.
export function hex64(n: number): string {
  return n.toString(16).padStart(64, '0');
}

// publish stores a payload and a one-component release using it.
export async function publish(
  store: Store,
  options: { id: string; classId?: string; sequence: number; size?: number; now?: Date },
) {
  const size = options.size ?? 100;
  const payloadId = hex64(size);
  await store.payloads.insert({ id: payloadId, size, now: options.now ?? at(0) });
  return store.releases.insert({
    id: options.id,
    vendorId: 'acme',
    classId: options.classId ?? 'gateway',
    sequence: options.sequence,
    version: `1.${options.sequence}.0`,
    expiresAt: at(86_400).toISOString(),
    signed: new Uint8Array([options.sequence, 1, 2, 3]),
    size,
    payloads: [{ component: 'rootfs', payloadId, size }],
    now: options.now ?? at(options.sequence),
  });
}
