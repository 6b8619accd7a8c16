import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import {
  type DatabaseLocation,
  openDatabase,
  storeError,
} from '../../../src/server/store/database.js';
import { createStore } from '../../../src/server/store/index.js';
import { migrations } from '../../../src/server/store/migrations/index.js';
import { freePort } from '../../support/free-port.js';
import { postgresSkipReason } from '../../support/postgres.js';
import { canMount } from '../../support/storage.js';
import { postgresShape, sqliteShape, textColumnCollations } from './schema-shape.js';
import { at, type Backend, forEachBackend, hex64, makeTempDatabase } from './temp-store.js';

const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-db-'));
  dirs.push(dir);
  return dir;
}

async function executedMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{
    name: string;
  }>`select name from kysely_migration order by name`.execute(db);
  return rows.map((row) => row.name);
}

async function tableNames<DB>(db: Kysely<DB>): Promise<string[]> {
  return (await db.introspection.getTables()).map((table) => table.name).sort();
}

const removals: (() => Promise<void>)[] = [];

// emptyDatabase makes a database with nothing in it on `backend`, removed after the test.
async function emptyDatabase(backend: Backend): Promise<DatabaseLocation> {
  const database = await makeTempDatabase(backend);
  removals.push(database.remove);
  return database.location;
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  for (const remove of removals.splice(0)) await remove();
});

forEachBackend((backend) => {
  describe('openDatabase', () => {
    it('records each applied migration by its versioned name', async () => {
      const db = await openDatabase(await emptyDatabase(backend));
      expect(await executedMigrations(db)).toEqual(Object.keys(migrations));
      expect(Object.keys(migrations)).toEqual([
        '0001-initial',
        '0002-enrolment-tokens',
        '0003-report-sequence',
        '0004-rollout-plans',
        '0005-device-labels',
        '0006-fleet-changes',
        '0007-post-commit-health',
        '0008-audit-append-only',
      ]);
      await db.destroy();
    });

    it('re-opening an existing database keeps its rows and migrates nothing again', async () => {
      const location = await emptyDatabase(backend);
      const first = createStore(await openDatabase(location));
      await first.payloads.insert({ id: hex64(1), size: 10, now: at(0) });
      await first.close();

      const second = createStore(await openDatabase(location));
      expect(await second.payloads.get(hex64(1))).toEqual({ id: hex64(1), size: 10 });
      expect(await executedMigrations(second.db)).toEqual(Object.keys(migrations));
      await second.close();
    });

    it('a failing migration is reported by name and leaves the schema as it was', async () => {
      const location = await emptyDatabase(backend);
      const broken = {
        ...migrations,
        '9999-broken': {
          async up(db: Kysely<unknown>) {
            await db.schema.createTable('half_built').addColumn('id', 'text').execute();
            throw new Error('disk says no');
          },
        },
      };
      const error = await openDatabase({ ...location, migrations: broken }).catch(
        (e: unknown) => e,
      );
      expect(isPendulumError(error, 'STORAGE_FAILED')).toBe(true);
      expect((error as Error).message).toContain('9999-broken');
      expect((error as Error).message).toContain('disk says no');

      const db = await openDatabase(location);
      expect(await tableNames(db)).not.toContain('half_built');
      expect(await tableNames(db)).toContain('releases');
      expect(await executedMigrations(db)).toEqual(Object.keys(migrations));
      await db.destroy();
    });

    it('a row referring to a missing row is refused as not found', async () => {
      const store = createStore(await openDatabase(await emptyDatabase(backend)));
      const error = await store.rollouts
        .create({ id: 'r1', releaseId: hex64(9), classId: 'c', now: at(0) })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
      expect(await store.rollouts.list()).toEqual([]);
      await store.close();
    });
  });
});

describe('openDatabase on SQLite', () => {
  it('runs with a WAL journal, synced by group commit, foreign keys and a busy timeout', async () => {
    const db = await openDatabase({ path: join(await tempDir(), 'metadata.db') });
    const pragma = async (name: string) => {
      const { rows } = await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(db);
      return Object.values(rows[0] ?? {})[0];
    };
    expect(await pragma('journal_mode')).toBe('wal');
    // NORMAL: SQLite leaves the WAL unsynced at commit and the driver syncs it
    // before anyone hears of the commit (group-commit.test.ts).
    expect(await pragma('synchronous')).toBe(1);
    expect(await pragma('foreign_keys')).toBe(1);
    expect(await pragma('busy_timeout')).toBe(5000);
    await db.destroy();
  });

  it('a file that is not a database is refused as a storage failure', async () => {
    const path = join(await tempDir(), 'metadata.db');
    await writeFile(
      path,
      'this is not sqlite, just some bytes that are long enough to look like a header'.repeat(20),
    );
    const error = await openDatabase({ path }).catch((e: unknown) => e);
    expect(isPendulumError(error, 'STORAGE_FAILED')).toBe(true);
  });
});

describe.skipIf(postgresSkipReason() !== undefined)('openDatabase on PostgreSQL', () => {
  it('has the same logical schema as SQLite: tables, columns, keys, indexes, references', async () => {
    const sqlite = await openDatabase(await emptyDatabase('sqlite'));
    const postgres = await openDatabase(await emptyDatabase('postgres'));
    try {
      const expected = await sqliteShape(sqlite);
      expect(expected.columns).toContain('audit_log.id integer not null auto id');
      expect(expected.columns).toContain('releases.signed binary not null');
      expect(await postgresShape(postgres)).toEqual(expected);
    } finally {
      await sqlite.destroy();
      await postgres.destroy();
    }
  });

  it('compares and sorts every text column by its bytes, whatever the server locale', async () => {
    const db = await openDatabase(await emptyDatabase('postgres'));
    try {
      const collations = await textColumnCollations(db);
      expect(collations.length).toBeGreaterThan(40);
      expect(collations.filter((column) => !column.endsWith(' C'))).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it('servers starting at once on an empty database migrate it once, under a lock', async () => {
    const location = await emptyDatabase('postgres');
    // A last migration that counts its runs, and dawdles so the openers overlap.
    const counted = {
      ...migrations,
      '9999-count': {
        async up(db: Kysely<unknown>) {
          await sql`create table if not exists migration_runs (n integer)`.execute(db);
          await sql`insert into migration_runs (n) values (1)`.execute(db);
          await new Promise((resolve) => setTimeout(resolve, 300));
        },
      },
    };
    const opened = await Promise.all(
      [1, 2, 3].map(() => openDatabase({ ...location, migrations: counted })),
    );
    try {
      for (const db of opened) {
        const { rows } = await sql<{
          runs: number | string;
        }>`select count(*) as runs from migration_runs`.execute(db);
        expect(Number(rows[0]?.runs)).toBe(1);
        expect(await executedMigrations(db)).toEqual(Object.keys(counted));
      }
    } finally {
      for (const db of opened) await db.destroy();
    }
  });

  it('a connection the server drops fails its request as STORAGE_FAILED, and the process carries on', async () => {
    const location = (await emptyDatabase('postgres')) as { url: string };
    const store = createStore(await openDatabase(location));
    const killer = new pg.Client({ connectionString: location.url });
    await killer.connect();
    try {
      const error = await store
        .transaction(async (tx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(
            tx.db,
          );
          // An administrator (or a failover) ends this connection mid-transaction.
          await killer.query('select pg_terminate_backend($1)', [rows[0]?.pid]);
          await new Promise((resolve) => setTimeout(resolve, 200));
          await tx.payloads.insert({ id: hex64(1), size: 1, now: at(0) });
        })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'STORAGE_FAILED')).toBe(true);
      // The pool drops the dead connection; the next request gets a new one.
      expect(await store.payloads.get(hex64(1))).toBeUndefined();
      await store.payloads.insert({ id: hex64(2), size: 2, now: at(0) });
      expect(await store.payloads.get(hex64(2))).toEqual({ id: hex64(2), size: 2 });
    } finally {
      await killer.end();
      await store.close();
    }
  });

  it('a server that is not there fails to open as STORAGE_FAILED, without the password', async () => {
    const port = await freePort();
    const url = `postgres://pendulum:hunter2-secret@127.0.0.1:${port}/fleet`;
    const error = await openDatabase({ url, postgres: { connectTimeoutMs: 2000 } }).catch(
      (e: unknown) => e,
    );
    expect(isPendulumError(error, 'STORAGE_FAILED')).toBe(true);
    expect((error as Error).message).toContain(`pendulum:***@127.0.0.1:${port}/fleet`);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('a wrong password or a missing database fails to open as STORAGE_FAILED, without the password', async () => {
    const { url } = (await emptyDatabase('postgres')) as { url: string };
    const wrong = new URL(url);
    wrong.password = 'hunter2-wrong';
    const refused = await openDatabase({ url: wrong.toString() }).catch((e: unknown) => e);
    expect(isPendulumError(refused, 'STORAGE_FAILED')).toBe(true);
    expect((refused as Error).message).toContain('password authentication failed');
    expect((refused as Error).message).not.toContain('hunter2');

    const missing = new URL(url);
    missing.pathname = '/no_such_database';
    const absent = await openDatabase({ url: missing.toString() }).catch((e: unknown) => e);
    expect(isPendulumError(absent, 'STORAGE_FAILED')).toBe(true);
    expect((absent as Error).message).toContain('no_such_database');
    expect((absent as Error).message).not.toContain(new URL(url).password);
  });

  it('refuses a URL of another database kind as CONFIG_INVALID naming the field', async () => {
    const error = await openDatabase({ url: 'mysql://root:hunter2@127.0.0.1/fleet' }).catch(
      (e: unknown) => e,
    );
    expect(isPendulumError(error, 'CONFIG_INVALID')).toBe(true);
    expect(error).toMatchObject({ context: { field: 'database' } });
    expect((error as Error).message).toContain('"mysql:"');
    expect((error as Error).message).not.toContain('hunter2');
  });
});

describe('storeError', () => {
  it('maps SQLite disk and lock failures to STORAGE_FAILED with the context prefix', () => {
    for (const code of ['SQLITE_FULL', 'SQLITE_IOERR_WRITE', 'SQLITE_READONLY', 'SQLITE_BUSY']) {
      const error = storeError(
        Object.assign(new Error('sqlite said so'), { code }),
        'releases.insert',
      );
      expect(isPendulumError(error, 'STORAGE_FAILED')).toBe(true);
      expect(error.message).toBe('releases.insert: sqlite said so');
    }
  });

  it('keeps errors that already carry a code', () => {
    const error = storeError(
      Object.assign(new Error('taken'), { code: 'SQLITE_CONSTRAINT_UNIQUE' }),
      'x',
    );
    expect(isPendulumError(error, 'ALREADY_EXISTS')).toBe(true);
    const unknown = storeError(new Error('syntax error'), 'x');
    expect(isPendulumError(unknown, 'INTERNAL')).toBe(true);
  });

  it('maps PostgreSQL failures as it maps the same failures of SQLite', () => {
    const pgError = (code: string, message = 'postgres said so') =>
      Object.assign(new Error(message), { code, severity: 'ERROR' });
    const cases: [string, string][] = [
      ['23505', 'ALREADY_EXISTS'], // unique_violation
      ['23503', 'NOT_FOUND'], // foreign_key_violation
      ['53100', 'STORAGE_FAILED'], // disk_full
      ['08006', 'STORAGE_FAILED'], // connection_failure
      ['57P01', 'STORAGE_FAILED'], // admin_shutdown
      ['40001', 'STORAGE_FAILED'], // serialization_failure, like SQLITE_BUSY
      ['40P01', 'STORAGE_FAILED'], // deadlock_detected
      ['XX001', 'STORAGE_FAILED'], // data_corrupted
      ['3D000', 'STORAGE_FAILED'], // invalid_catalog_name: no such database
      ['28P01', 'STORAGE_FAILED'], // invalid_password
      ['25006', 'STORAGE_FAILED'], // read_only_sql_transaction: a standby
      ['42601', 'INTERNAL'], // syntax_error: our bug, not the disk
    ];
    for (const [code, expected] of cases) {
      const error = storeError(pgError(code), 'releases.insert');
      expect([code, (error as { code?: string }).code]).toEqual([code, expected]);
      expect(error.message).toBe('releases.insert: postgres said so');
    }
  });

  it('maps a lost or refused PostgreSQL connection to STORAGE_FAILED', () => {
    for (const error of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
    ])
      expect(isPendulumError(storeError(error, 'x'), 'STORAGE_FAILED')).toBe(true);
  });
});

describe.skipIf(!canMount)('on a full disk', () => {
  let mount: string;

  beforeAll(async () => {
    mount = await mkdtemp(join(tmpdir(), 'pendulum-db-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
  });

  afterAll(async () => {
    execFileSync('umount', [mount]);
    await rm(mount, { recursive: true, force: true });
  });

  it('a database write that does not fit fails as STORAGE_FAILED and keeps what was committed', async () => {
    const store = createStore(await openDatabase({ path: join(mount, 'metadata.db') }));
    await store.audit.append({
      actor: 'test',
      action: 'first',
      subject: 's',
      detail: {},
      now: at(0),
    });
    const big = { blob: 'x'.repeat(256 * 1024) };
    let error: unknown;
    for (let i = 0; i < 16 && error === undefined; i++) {
      error = await store.audit
        .append({ actor: 'test', action: 'fill', subject: String(i), detail: big, now: at(i) })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
    }
    expect(isPendulumError(error, 'STORAGE_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/^audit\.append: /);
    const entries = await store.audit.list({ limit: 100 });
    expect(entries.at(-1)?.action).toBe('first');
    await store.close();
  });
});
