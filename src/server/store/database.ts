// Opens the metadata database, SQLite or PostgreSQL, and brings its schema
// up to date before anyone can query it.
import { Kysely, type Migration, Migrator } from 'kysely';
import { PendulumError } from '../../errors.js';
import { checkDatabaseUrl, type DatabaseLocation } from './database-location.js';
import { migrations as allMigrations, staticMigrationProvider } from './migrations/index.js';
import {
  checkReachable,
  defaultPostgresOptions,
  type PostgresOptions,
  postgresDialect,
} from './postgres.js';
import type { Database } from './schema.js';
import { openSqliteDialect } from './sqlite.js';

export type { DatabaseLocation } from './database-location.js';
export { storeError } from './store-error.js';

export type OpenDatabaseOptions = DatabaseLocation & {
  // The migrations to apply; pendulum's own unless a test injects others.
  readonly migrations?: Readonly<Record<string, Migration>>;
  // PostgreSQL only: the connection pool.
  readonly postgres?: Partial<PostgresOptions>;
};

// openDatabase opens (or creates) the database and migrates it to the latest
// schema. Servers starting at once against one database migrate it once: the
// migrator holds a lock (SQLite's write lock, a PostgreSQL advisory lock).
export async function openDatabase(options: OpenDatabaseOptions): Promise<Kysely<Database>> {
  if ('url' in options) checkDatabaseUrl(options.url);
  const dialect =
    'url' in options
      ? postgresDialect(options.url, { ...defaultPostgresOptions, ...options.postgres })
      : await openSqliteDialect(options.path);
  const db = new Kysely<Database>({ dialect });
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
