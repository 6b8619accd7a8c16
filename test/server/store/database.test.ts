import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import { openDatabase, storeError } from '../../../src/server/store/database.js';
import { createStore } from '../../../src/server/store/index.js';
import { migrations } from '../../../src/server/store/migrations/index.js';
import { canMount } from '../../support/storage.js';
import { at, hex64 } from './temp-store.js';

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
  const { rows } = await sql<{
    name: string;
  }>`select name from sqlite_master where type = 'table' order by name`.execute(db);
  return rows.map((row) => row.name);
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('records each applied migration by its versioned name', async () => {
    const path = join(await tempDir(), 'metadata.db');
    const db = await openDatabase({ path });
    expect(await executedMigrations(db)).toEqual(Object.keys(migrations));
    expect(Object.keys(migrations)).toEqual([
      '0001-initial',
      '0002-enrolment-tokens',
      '0003-report-sequence',
      '0004-rollout-plans',
      '0005-device-labels',
      '0006-fleet-changes',
    ]);
    await db.destroy();
  });

  it('re-opening an existing database keeps its rows and migrates nothing again', async () => {
    const path = join(await tempDir(), 'metadata.db');
    const first = createStore(await openDatabase({ path }));
    await first.payloads.insert({ id: hex64(1), size: 10, now: at(0) });
    await first.close();

    const second = createStore(await openDatabase({ path }));
    expect(await second.payloads.get(hex64(1))).toEqual({ id: hex64(1), size: 10 });
    expect(await executedMigrations(second.db)).toEqual(Object.keys(migrations));
    await second.close();
  });

  it('runs with a WAL journal, full fsync on commit, foreign keys and a busy timeout', async () => {
    const db = await openDatabase({ path: join(await tempDir(), 'metadata.db') });
    const pragma = async (name: string) => {
      const { rows } = await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(db);
      return Object.values(rows[0] ?? {})[0];
    };
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('synchronous')).toBe(2); // FULL
    expect(await pragma('foreign_keys')).toBe(1);
    expect(await pragma('busy_timeout')).toBe(5000);
    await db.destroy();
  });

  it('a failing migration is reported by name and leaves the schema as it was', async () => {
    const path = join(await tempDir(), 'metadata.db');
    const broken = {
      ...migrations,
      '9999-broken': {
        async up(db: Kysely<unknown>) {
          await db.schema.createTable('half_built').addColumn('id', 'text').execute();
          throw new Error('disk says no');
        },
      },
    };
    const error = await openDatabase({ path, migrations: broken }).catch((e: unknown) => e);
    expect(isPendulumError(error, 'STORAGE_FAILED')).toBe(true);
    expect((error as Error).message).toContain('9999-broken');
    expect((error as Error).message).toContain('disk says no');

    const db = await openDatabase({ path });
    expect(await tableNames(db)).not.toContain('half_built');
    expect(await tableNames(db)).toContain('releases');
    expect(await executedMigrations(db)).toEqual(Object.keys(migrations));
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

  it('a row referring to a missing row is refused as not found', async () => {
    const store = createStore(await openDatabase({ path: join(await tempDir(), 'metadata.db') }));
    const error = await store.rollouts
      .create({ id: 'r1', releaseId: hex64(9), classId: 'c', now: at(0) })
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
    expect(await store.rollouts.list()).toEqual([]);
    await store.close();
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
