// Opens the embedded SQLite metadata database and brings its schema up to date.
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, type Migration, Migrator } from 'kysely';
import type { Logger } from 'pino';
import { PendulumError } from '../../errors.js';
import { startCheckpointer } from './checkpointer.js';
import {
  createGroupCommit,
  type GroupCommit,
  type GroupCommitStats,
  type WalSync,
} from './group-commit.js';
import { migrations as allMigrations, staticMigrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';
import { DurableSqliteDialect } from './sqlite-dialect.js';
import { storeError } from './store-error.js';

export { storeError } from './store-error.js';

export interface OpenDatabaseOptions {
  // The SQLite file; its directory is created if missing.
  readonly path: string;
  // The migrations to apply; pendulum's own unless a test injects others.
  readonly migrations?: Readonly<Record<string, Migration>>;
  // How the WAL is synced before a commit is acknowledged; tests hold or fail it.
  readonly walSync?: WalSync;
  // Syncs of the WAL begin at most this often (group-commit.ts); default 0.
  readonly syncIntervalMs?: number;
  // Checkpoint on a worker thread (checkpointer.ts), logging its failures
  // here; without it SQLite checkpoints on the thread that commits.
  readonly checkpointLog?: Logger;
}

// With a checkpoint thread: how often it checkpoints, and the WAL size (in
// 4 KiB pages) at which the server's own connection would after all.
const checkpointEveryMs = 1000;
const backstopCheckpointPages = 16_384;

// The group commit of each database openDatabase made.
const groupCommits = new WeakMap<Kysely<Database>, GroupCommit>();

// whenDurable resolves once every commit made so far on `db` is on stable
// storage: what anyone may have read is then durable. A reply waits for it,
// so no caller is ever told of a commit a power cut could take back.
export function whenDurable(db: Kysely<Database>): Promise<void> {
  return groupCommits.get(db)?.durable() ?? Promise.resolve();
}

// durabilityStats is what the group commit of `db` has done (undefined for a
// database openDatabase did not make).
export function durabilityStats(db: Kysely<Database>): GroupCommitStats | undefined {
  return groupCommits.get(db)?.stats();
}

// openDatabase opens (or creates) the database file and migrates it to the
// latest schema before anyone can query it.
export async function openDatabase(options: OpenDatabaseOptions): Promise<Kysely<Database>> {
  const sqlite = await openSqlite(options.path);
  const commits = createGroupCommit(`${resolve(options.path)}-wal`, {
    ...(options.walSync === undefined ? {} : { sync: options.walSync }),
    minIntervalMs: options.syncIntervalMs ?? 0,
  });
  let checkpointer: ReturnType<typeof startCheckpointer> | undefined;
  if (options.checkpointLog !== undefined) {
    sqlite.pragma(`wal_autocheckpoint = ${backstopCheckpointPages}`);
    checkpointer = startCheckpointer(
      resolve(options.path),
      checkpointEveryMs,
      options.checkpointLog,
    );
  }
  const db = new Kysely<Database>({
    dialect: new DurableSqliteDialect({ database: sqlite, commits, checkpointer }),
  });
  groupCommits.set(db, commits);
  try {
    await migrateToLatest(db, options.migrations ?? allMigrations);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

async function openSqlite(path: string): Promise<SQLite.Database> {
  let sqlite: SQLite.Database | undefined;
  try {
    await mkdir(dirname(path), { recursive: true });
    sqlite = new SQLite(path);
    // WAL: readers never block the writer, and a crash cannot tear a page.
    const mode = sqlite.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      throw new PendulumError(
        'STORAGE_FAILED',
        `cannot enable WAL journal on ${path} (got ${String(mode)})`,
      );
    }
    // This is the system of record for releases and deployments: no commit
    // may be lost to a power cut once anyone has heard of it. NORMAL leaves
    // the WAL unsynced at commit, and the driver's group commit
    // (group-commit.ts) syncs it before the committer or any reply learns of
    // the commit: FULL's guarantee, with one fdatasync for many commits, off
    // the event loop. Checkpoints and WAL restarts are synced by SQLite itself.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    return sqlite;
  } catch (error) {
    sqlite?.close();
    throw storeError(error, `cannot open database ${path}`);
  }
}

// Every migration runs in one transaction with its bookkeeping, so a failure
// names the migration and leaves the schema as it was.
async function migrateToLatest(
  db: Kysely<Database>,
  set: Readonly<Record<string, Migration>>,
): Promise<void> {
  const migrator = new Migrator({ db, provider: staticMigrationProvider(set) });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed =
    results?.find((result) => result.status === 'Error')?.migrationName ?? 'bookkeeping';
  const reason = error instanceof Error ? error.message : String(error);
  throw new PendulumError('STORAGE_FAILED', `database migration ${failed} failed: ${reason}`, {
    context: { migration: failed },
    cause: error,
  });
}
