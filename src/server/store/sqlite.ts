// The embedded backend: one SQLite file through better-sqlite3, tuned to be
// the system of record (WAL, every commit durable before anyone hears of it,
// foreign keys), with group commit and checkpoints off the event loop.
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import type { Dialect } from 'kysely';
import type { Logger } from 'pino';
import { PendulumError } from '../../errors.js';
import { type Checkpointer, startCheckpointer } from './checkpointer.js';
import { createGroupCommit, type GroupCommit, type WalSync } from './group-commit.js';
import { DurableSqliteDialect } from './sqlite-dialect.js';
import { storeError } from './store-error.js';

export interface SqliteOptions {
  // How the WAL is synced before a commit is acknowledged; tests hold or fail it.
  readonly walSync?: WalSync;
  // Syncs of the WAL begin at most this often (group-commit.ts); default 0.
  readonly syncIntervalMs?: number;
  // Checkpoint on a worker thread (checkpointer.ts), logging its failures
  // here; without it SQLite checkpoints on the thread that commits.
  readonly checkpointLog?: Logger;
}

// With a checkpoint thread: how often it checkpoints, and the WAL size (in
// 4 KiB pages) at which the server's own connection would after all.
const checkpointEveryMs = 1000;
const backstopCheckpointPages = 16_384;

// openSqliteDialect opens (or creates) the file and returns a Kysely dialect
// over it, with the group commit that makes its commits durable.
export async function openSqliteDialect(
  path: string,
  options: SqliteOptions = {},
): Promise<{ dialect: Dialect; commits: GroupCommit }> {
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
    // This is the system of record for releases and deployments: no commit
    // may be lost to a power cut once anyone has heard of it. NORMAL leaves
    // the WAL unsynced at commit, and the driver's group commit
    // (group-commit.ts) syncs it before the committer or any reply learns of
    // the commit: FULL's guarantee, with one fdatasync for many commits, off
    // the event loop. Checkpoints and WAL restarts are synced by SQLite itself.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const commits = createGroupCommit(`${resolve(path)}-wal`, {
      ...(options.walSync === undefined ? {} : { sync: options.walSync }),
      minIntervalMs: options.syncIntervalMs ?? 0,
    });
    let checkpointer: Checkpointer | undefined;
    if (options.checkpointLog !== undefined) {
      sqlite.pragma(`wal_autocheckpoint = ${backstopCheckpointPages}`);
      checkpointer = startCheckpointer(resolve(path), checkpointEveryMs, options.checkpointLog);
    }
    return {
      dialect: new DurableSqliteDialect({ database: sqlite, commits, checkpointer }),
      commits,
    };
  } catch (error) {
    sqlite?.close();
    throw storeError(error, `cannot open database ${path}`);
  }
}
