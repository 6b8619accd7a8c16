// Kysely's SQLite dialect with what SQLite supports and Kysely's defaults
// leave out: transactional DDL, BEGIN IMMEDIATE, prepared statements kept for
// reuse, and group commit (group-commit.ts): a query that commits returns
// only once its commit is on stable storage.
import type BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type QueryResult,
  SelectQueryNode,
  SqliteAdapter,
  SqliteDialect,
} from 'kysely';
import type { Checkpointer } from './checkpointer.js';
import type { GroupCommit } from './group-commit.js';

// SQLite rolls back CREATE TABLE like any other write, so a migration that
// fails half-way leaves the schema as it was instead of half-built.
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

// Kysely compiles the same few dozen queries again and again; preparing each
// costs more than running it.
const cachedStatements = 256;

class DurableSqliteConnection implements DatabaseConnection {
  readonly #db: BetterSqlite3.Database;
  readonly #commits: GroupCommit;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  // A statement that writes ran since the last commit.
  #dirty = false;
  // A commit happened since the connection was last taken.
  committedSinceTaken = false;

  constructor(db: BetterSqlite3.Database, commits: GroupCommit) {
    this.#db = db;
    this.#commits = commits;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const stmt = this.#prepare(query.sql);
    const parameters = query.parameters as unknown[];
    try {
      if (stmt.reader) return { rows: stmt.all(parameters) as R[] };
      const { changes, lastInsertRowid } = stmt.run(parameters);
      return {
        numAffectedRows: BigInt(changes),
        insertId: BigInt(lastInsertRowid),
        rows: [],
      };
    } finally {
      // BEGIN/COMMIT count as read-only; what matters is whether a write is now committed.
      if (!stmt.readonly) this.#dirty = true;
      if (this.#dirty && !this.#db.inTransaction) {
        this.#dirty = false;
        if (!this.#commits.lazy) {
          this.committedSinceTaken = true;
          this.#commits.committed();
        }
      }
    }
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(query.query))
      throw new Error('the SQLite driver streams select queries only');
    // Its own statement: a cached one could be reused while this one iterates.
    const stmt = this.#db.prepare(query.sql);
    for (const row of stmt.iterate(query.parameters as unknown[])) yield { rows: [row as R] };
  }

  #prepare(sql: string): BetterSqlite3.Statement {
    const cached = this.#statements.get(sql);
    if (cached !== undefined) return cached;
    const stmt = this.#db.prepare(sql);
    if (this.#statements.size >= cachedStatements) {
      const oldest = this.#statements.keys().next().value;
      if (oldest !== undefined) this.#statements.delete(oldest);
    }
    this.#statements.set(sql, stmt);
    return stmt;
  }
}

// One connection, taken in turn: waiters queue in order, and only the next
// one wakes when it is released.
class ConnectionQueue {
  #held = false;
  readonly #waiting: (() => void)[] = [];

  take(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  give(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#held = false;
    else next();
  }
}

class DurableSqliteDriver implements Driver {
  readonly #db: BetterSqlite3.Database;
  readonly #commits: GroupCommit;
  readonly #checkpointer: Checkpointer | undefined;
  readonly #connection: DurableSqliteConnection;
  readonly #queue = new ConnectionQueue();

  constructor(config: DurableSqliteDialectConfig) {
    this.#db = config.database;
    this.#commits = config.commits;
    this.#checkpointer = config.checkpointer;
    this.#connection = new DurableSqliteConnection(config.database, config.commits);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#queue.take();
    this.#connection.committedSinceTaken = false;
    return this.#connection;
  }

  // A deferred BEGIN takes the write lock only at its first write; under WAL a
  // second process may have committed in between and SQLite then fails with
  // SQLITE_BUSY at once, ignoring busy_timeout. IMMEDIATE waits for the lock.
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  // The connection is free for the next query at once; a caller that
  // committed gets its result only once the commit is durable. (What a
  // caller reads may be another's commit still being synced: the server
  // waits for `durable` before it replies; see whenDurable.)
  async releaseConnection(): Promise<void> {
    const committed = this.#connection.committedSinceTaken;
    this.#queue.give();
    if (committed) await this.#commits.durable();
  }

  async destroy(): Promise<void> {
    await this.#checkpointer?.stop();
    await this.#commits.close();
    this.#db.close();
  }
}

export interface DurableSqliteDialectConfig {
  readonly database: BetterSqlite3.Database;
  // Syncs the WAL for the commits on `database`.
  readonly commits: GroupCommit;
  // Checkpoints on another thread, if any; stopped before the database closes.
  readonly checkpointer?: Checkpointer | undefined;
}

// DurableSqliteDialect is SqliteDialect with the adapter and driver above.
export class DurableSqliteDialect extends SqliteDialect {
  readonly #config: DurableSqliteDialectConfig;

  constructor(config: DurableSqliteDialectConfig) {
    super({ database: config.database });
    this.#config = config;
  }

  override createDriver(): Driver {
    return new DurableSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
