// Kysely's SQLite dialect with two changes that SQLite supports and Kysely's
// defaults leave out: transactional DDL and BEGIN IMMEDIATE.
import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';

// SQLite rolls back CREATE TABLE like any other write, so a migration that
// fails half-way leaves the schema as it was instead of half-built.
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

// A deferred BEGIN takes the write lock only at its first write; under WAL a
// second process may have committed in between and SQLite then fails with
// SQLITE_BUSY at once, ignoring busy_timeout. IMMEDIATE waits for the lock.
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

// DurableSqliteDialect is SqliteDialect with the adapter and driver above.
export class DurableSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
