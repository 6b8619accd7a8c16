// The shared backend: a PostgreSQL server that several replicas use at once,
// through a pg connection pool. Every conditional update the repositories
// make is safe under PostgreSQL's default READ COMMITTED isolation.
import { type Dialect, type Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { PendulumError } from '../../errors.js';
import { redactDatabaseUrl } from './database-location.js';

export interface PostgresOptions {
  // Connections this process keeps open at most.
  readonly poolSize: number;
  // How long a query waits to connect (or for a free connection) before failing.
  readonly connectTimeoutMs: number;
  // Called when a pooled connection fails (the server restarted); the pool
  // drops it and the next query connects again.
  readonly onConnectionError?: (error: Error) => void;
}

export const defaultPostgresOptions: PostgresOptions = { poolSize: 10, connectTimeoutMs: 10_000 };

// postgresDialect returns a Kysely dialect over a new pool for `url`.
export function postgresDialect(url: string, options: PostgresOptions): Dialect {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    keepAlive: true,
    application_name: 'pendulum',
  });
  // A connection that fails (the server restarts, an administrator ends it)
  // emits 'error', which crashes the process unless someone listens: the
  // pool listens only while the connection is idle, so every connection gets
  // a listener of its own. A query in flight fails by itself; the pool drops
  // the connection when it comes back.
  pool.on('connect', (client) => {
    client.on('error', (error) => options.onConnectionError?.(error));
  });
  // The pool re-emits an idle connection's error, already reported above.
  pool.on('error', () => undefined);
  return new PostgresDialect({ pool });
}

// checkReachable connects once, so a server that cannot reach its database
// fails at start with the reason instead of at the first request.
export async function checkReachable<DB>(db: Kysely<DB>, url: string): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    throw new PendulumError(
      'STORAGE_FAILED',
      `cannot connect to PostgreSQL at ${redactDatabaseUrl(url)}: ${reasonOf(error)}`,
      { context: { field: 'database' }, cause: error },
    );
  }
}

// reasonOf is an error's message; a failed connection to a name with several
// addresses (localhost: ::1 and 127.0.0.1) is an AggregateError with none.
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.message === '')
    return [...new Set(error.errors.map(reasonOf))].join('; ');
  if (error instanceof Error)
    return error.message || ((error as { code?: string }).code ?? error.name);
  return String(error);
}
