// The test PostgreSQL server as the tests see it: what the global setup
// (postgres-setup.ts) provided, and a fresh database on it per test.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

// What the global setup found: a server's URL (its user may create
// databases) and the name of a database there that pendulum's migrations
// were applied to, to copy; or why there is none (never under
// PENDULUM_TEST_STRICT=1).
export type PostgresProvision =
  | { readonly url: string; readonly migrated: string }
  | { readonly skipped: string };

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

function server(): { url: string; migrated: string } {
  const provision = inject('postgres');
  if ('skipped' in provision)
    throw new Error(`no test PostgreSQL server on this run: ${provision.skipped}`);
  return provision;
}

export interface TempDatabase {
  // The new, empty database's URL.
  readonly url: string;
  // Drops it, closing whatever connections are still open on it.
  drop(): Promise<void>;
}

// withAdmin runs `use` on a connection to the server's maintenance database.
export async function withAdmin<T>(
  url: string,
  use: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

// createTempDatabase makes a database with a random name on the test server:
// empty, or (`migrated`) a copy of one pendulum's migrations were applied to,
// which is much quicker than migrating each anew.
export async function createTempDatabase(
  options: { migrated?: boolean } = {},
): Promise<TempDatabase> {
  const { url: admin, migrated } = server();
  const name = `pendulum_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(admin, async (client) => {
    // PostgreSQL 15 copies a small database quicker file by file than through the WAL.
    const { rows } = await client.query<{ version: string }>('show server_version_num');
    const strategy = Number(rows[0]?.version) >= 150_000 ? ' STRATEGY FILE_COPY' : '';
    await client.query(
      `CREATE DATABASE ${name}${options.migrated ? ` TEMPLATE ${migrated}` : ''}${strategy}`,
    );
  });
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await withAdmin(admin, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      );
    },
  };
}
