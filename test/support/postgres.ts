// The test PostgreSQL server as the tests see it: what the global setup
// (postgres-setup.ts) provided, and a fresh database on it per test.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

// What the global setup found: a server's URL (its user may create
// databases), or why there is none (never under PENDULUM_TEST_STRICT=1).
export type PostgresProvision = { readonly url: string } | { readonly skipped: string };

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresProvision;
  }
}

// postgresSkipReason is why the PostgreSQL half of the suite is skipped on
// this run, or undefined when a server is there.
export function postgresSkipReason(): string | undefined {
  const provision = inject('postgres');
  return 'skipped' in provision ? provision.skipped : undefined;
}

function adminUrl(): string {
  const provision = inject('postgres');
  if ('skipped' in provision)
    throw new Error(`no test PostgreSQL server on this run: ${provision.skipped}`);
  return provision.url;
}

export interface TempDatabase {
  // The new, empty database's URL.
  readonly url: string;
  // Drops it, closing whatever connections are still open on it.
  drop(): Promise<void>;
}

// withAdmin runs `use` on a connection to the server's maintenance database.
async function withAdmin<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

// createTempDatabase makes an empty database with a random name on the test server.
export async function createTempDatabase(): Promise<TempDatabase> {
  const name = `pendulum_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
