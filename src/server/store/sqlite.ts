// The embedded backend: one SQLite file through better-sqlite3, tuned to be
// the system of record (WAL, full fsync on commit, foreign keys).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import type { Dialect } from 'kysely';
import { PendulumError } from '../../errors.js';
import { DurableSqliteDialect } from './sqlite-dialect.js';
import { storeError } from './store-error.js';

// openSqliteDialect opens (or creates) the file and returns a Kysely dialect over it.
export async function openSqliteDialect(path: string): Promise<Dialect> {
  let sqlite: SQLite.Database | undefined;
  try {
    await mkdir(dirname(path), { recursive: true });
    sqlite = new SQLite(path);
    // WAL: readers never block the writer, and a crash cannot tear a page.
    const mode = sqlite.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      throw new PendulumError(
        'STORAGE_FAILED',
        `cannot enable WAL journal on ${path} (got ${String(mode)})`,
      );
    }
    // FULL, not NORMAL: under WAL, NORMAL may lose the last commits on power
    // loss, and this is the system of record for releases and deployments.
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    return new DurableSqliteDialect({ database: sqlite });
  } catch (error) {
    sqlite?.close();
    throw storeError(error, `cannot open database ${path}`);
  }
}
