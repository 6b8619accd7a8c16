// Global setup: one PostgreSQL server for the whole run, which the store
// tests (test/server/store) run against besides SQLite.
//
// - PENDULUM_TEST_POSTGRES=postgres://user:password@127.0.0.1:5432/postgres
//   uses that server; its user must be allowed to CREATE DATABASE.
// - Otherwise a private cluster is made with initdb in a temporary directory
//   and started with pg_ctl, listening only on 127.0.0.1 on a free port (no
//   Unix socket), fsync off, and stopped and removed at the end of the run.
//   initdb and pg_ctl refuse to run as root, so as root they run as the
//   `postgres` user (which Debian's postgresql package creates) via runuser.
//   A run killed before its teardown leaves that server running:
//   runuser -u postgres -- pg_ctl -D /tmp/pendulum-pg-*/data stop.
// - Without the binaries (Debian package `postgresql`) the PostgreSQL half is
//   skipped with a warning, or, under PENDULUM_TEST_STRICT=1 (CI), the run fails.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/server/store/database.js';
import { freePort } from './free-port.js';
import { type PostgresProvision, withAdmin } from './postgres.js';

const run = promisify(execFile);
const strict = process.env.PENDULUM_TEST_STRICT === '1';
const missingPackage =
  'PostgreSQL server binaries (initdb, pg_ctl) not found; install the Debian package "postgresql" (scripts/install-deps.sh does)';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.PENDULUM_TEST_POSTGRES;
  if (external !== undefined && external !== '') {
    await waitForServer(external, 1);
    const migrated = await makeMigratedDatabase(external);
    project.provide('postgres', { url: external, migrated: migrated.name });
    return migrated.drop;
  }
  const bin = findBinaries();
  if (bin === undefined) {
    if (strict) throw new Error(`PENDULUM_TEST_STRICT=1 but ${missingPackage}`);
    const banner = '!'.repeat(78);
    console.warn(
      `\n${banner}\n! SKIPPING every PostgreSQL store test: ${missingPackage}\n${banner}\n`,
    );
    project.provide('postgres', { skipped: missingPackage } satisfies PostgresProvision);
    return async () => undefined;
  }
  const cluster = await startCluster(bin);
  try {
    const migrated = await makeMigratedDatabase(cluster.url);
    project.provide('postgres', { url: cluster.url, migrated: migrated.name });
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster.stop;
}

// makeMigratedDatabase makes the database each store test's is copied from,
// with pendulum's migrations applied, and closes every connection to it (a
// database someone is connected to cannot be copied).
async function makeMigratedDatabase(
  url: string,
): Promise<{ name: string; drop: () => Promise<void> }> {
  const name = `pendulum_migrated_${randomBytes(6).toString('hex')}`;
  await withAdmin(url, (client) => client.query(`CREATE DATABASE ${name}`));
  const target = new URL(url);
  target.pathname = `/${name}`;
  await (await openDatabase({ url: target.toString() })).destroy();
  return {
    name,
    drop: async () => {
      await withAdmin(url, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      );
    },
  };
}

// findBinaries returns the directory of the newest initdb and pg_ctl:
// Debian keeps them off PATH in /usr/lib/postgresql/<major>/bin.
function findBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const dirs = [
    ...majors.map((major) => join(root, major, 'bin')),
    ...(process.env.PATH ?? '').split(':'),
  ];
  return dirs.find(
    (dir) => dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')),
  );
}

interface Cluster {
  readonly url: string;
  stop(): Promise<void>;
}

async function startCluster(bin: string): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const password = randomBytes(18).toString('hex');
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  // initdb and pg_ctl refuse root; the postgres user must own the directory.
  const asRoot = process.getuid?.() === 0;
  const prefix = asRoot ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asRoot) {
    const ids = await Promise.all(
      ['-u', '-g'].map(async (flag) => {
        const { stdout } = await run('id', [flag, 'postgres']).catch(() => {
          throw new Error(`running as root, but there is no "postgres" user to run initdb as`);
        });
        return Number(stdout.trim());
      }),
    );
    const [uid = 0, gid = 0] = ids;
    await chown(dir, uid, gid);
    await chown(passwordFile, uid, gid);
  }
  await chmod(dir, 0o700);
  const tool = async (name: string, args: string[]) => {
    const [file = '', ...rest] = [...prefix, join(bin, name), ...args];
    return run(file, rest, { timeout: 120_000 });
  };
  try {
    // ICU en-US as the default collation (PostgreSQL 15 and later), as on
    // most production servers: it sorts "b" before "C", unlike C or SQLite,
    // so the suite would see a column that sorts by it.
    const { stdout: version } = await run(join(bin, 'initdb'), ['--version']);
    const major = Number(/\(PostgreSQL\)\s+(\d+)/.exec(version)?.[1] ?? 0);
    const icu = major >= 15 ? ['--locale-provider=icu', '--icu-locale=en-US'] : [];
    await tool('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=scram-sha-256',
      `--pwfile=${passwordFile}`,
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
      ...icu,
      '--no-sync',
      '--no-instructions',
    ]);
    const port = await startOnFreePort(data, log, tool);
    const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    await waitForServer(url, 50);
    return {
      url,
      stop: async () => {
        await tool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    const serverLog = await readFile(log, 'utf8').catch(() => '');
    await tool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot start a test PostgreSQL server with ${bin}: ${String(error)}`, {
      cause: serverLog === '' ? error : new Error(serverLog),
    });
  }
}

// startOnFreePort starts the server on a port the OS just had free, again on
// another one if something took it in between.
async function startOnFreePort(
  data: string,
  log: string,
  tool: (name: string, args: string[]) => Promise<unknown>,
): Promise<number> {
  const conf = join(data, 'postgresql.conf');
  const original = await readFile(conf, 'utf8');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    await writeFile(conf, original);
    await appendFile(
      conf,
      [
        '',
        '# pendulum test server: loopback TCP only, durability traded for speed',
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        "unix_socket_directories = ''",
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'max_connections = 200',
        '',
      ].join('\n'),
    );
    try {
      await tool('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
      return port;
    } catch (error) {
      const serverLog = await readFile(log, 'utf8').catch(() => '');
      if (attempt >= 5 || !/could not bind|Address already in use/.test(serverLog)) throw error;
    }
  }
}

// waitForServer connects until the server answers, `tries` times 100 ms apart.
async function waitForServer(url: string, tries: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (error) {
      if (attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
