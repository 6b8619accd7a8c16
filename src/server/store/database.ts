// Opens the metadata database, SQLite or PostgreSQL, and brings its schema
// up to date before anyone can query it.
import { type Dialect, Kysely, type Migration, Migrator } from 'kysely';
import { PendulumError } from '../../errors.js';
import { checkDatabaseUrl, type DatabaseLocation } from './database-location.js';
import type { GroupCommit, GroupCommitStats } from './group-commit.js';
import { migrations as allMigrations, staticMigrationProvider } from './migrations/index.js';
import {
  checkReachable,
  defaultPostgresOptions,
  type PostgresOptions,
  postgresDialect,
} from './postgres.js';
import type { Database } from './schema.js';
import { openSqliteDialect, type SqliteOptions } from './sqlite.js';

export type { DatabaseLocation } from './database-location.js';
export { storeError } from './store-error.js';

export type OpenDatabaseOptions = DatabaseLocation & {
  // The migrations to apply; pendulum's own unless a test injects others.
  readonly migrations?: Readonly<Record<string, Migration>>;
  // PostgreSQL only: the connection pool.
  readonly postgres?: Partial<PostgresOptions>;
  // SQLite only: group commit and checkpoints.
  readonly sqlite?: SqliteOptions;
};

// The group commit of each SQLite database openDatabase made (PostgreSQL
// makes each commit durable itself).
const groupCommits = new WeakMap<Kysely<Database>, GroupCommit>();

// whenDurable resolves once every commit made so far on `db` is on stable
// storage: what anyone may have read is then durable. A reply waits for it,
// so no caller is ever told of a commit a power cut could take back.
export function whenDurable(db: Kysely<Database>): Promise<void> {
  return groupCommits.get(db)?.durable() ?? Promise.resolve();
}

// withoutWaiting runs fn on one connection of `db` whose commits nobody
// waits for: writes that may be lost to a power cut (last-seen times), which
// must not hold up replies until they are synced. On PostgreSQL, fn simply
// runs: each commit there is durable when it returns.
export async function withoutWaiting<T>(
  db: Kysely<Database>,
  fn: (connection: Kysely<Database>) => Promise<T>,
): Promise<T> {
  const commits = groupCommits.get(db);
  if (commits === undefined) return fn(db);
  // On SQLite's one connection, held here: no other caller's commit runs meanwhile.
  return db.connection().execute(async (connection) => {
    commits.lazy = true;
    try {
      return await fn(connection);
    } finally {
      commits.lazy = false;
    }
  });
}

// durabilityStats is what the group commit of `db` has done (undefined for a
// database openDatabase did not make, or PostgreSQL).
export function durabilityStats(db: Kysely<Database>): GroupCommitStats | undefined {
  return groupCommits.get(db)?.stats();
}

// openDatabase opens (or creates) the database and migrates it to the latest
// schema. Servers starting at once against one database migrate it once: the
// migrator holds a lock (SQLite's write lock, a PostgreSQL advisory lock).
export async function openDatabase(options: OpenDatabaseOptions): Promise<Kysely<Database>> {
  let dialect: Dialect;
  let commits: GroupCommit | undefined;
  if ('url' in options) {
    checkDatabaseUrl(options.url);
    dialect = postgresDialect(options.url, { ...defaultPostgresOptions, ...options.postgres });
  } else {
    ({ dialect, commits } = await openSqliteDialect(options.path, options.sqlite));
  }
  const db = new Kysely<Database>({ dialect });
  if (commits !== undefined) groupCommits.set(db, commits);
  try {
    if ('url' in options) await checkReachable(db, options.url);
    await migrateToLatest(db, options.migrations ?? allMigrations);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

// Every pending migration runs in one transaction with its bookkeeping (both
// backends have transactional DDL), so a failure names the migration and
// leaves the schema as it was.
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
