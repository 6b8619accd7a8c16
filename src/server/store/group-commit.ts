// Group commit for SQLite in WAL mode: SQLite commits without syncing
// (synchronous = NORMAL), and no one hears of a commit until an fdatasync of
// the WAL file begun after it has finished. That is what synchronous = FULL
// guarantees, but one sync covers every commit made meanwhile, and it runs on
// libuv's thread pool instead of blocking the event loop for the whole flush.
import { type FileHandle, open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { PendulumError } from '../../errors.js';

export interface GroupCommit {
  // committed notes that a transaction has just committed.
  committed(): void;
  // While true, commits are not noted: nobody waits for them to be synced
  // (the next sync, or the next checkpoint, takes them to stable storage).
  lazy: boolean;
  // durable resolves once every commit noted so far is on stable storage.
  durable(): Promise<void>;
  // close waits for a sync in flight and releases the WAL file.
  close(): Promise<void>;
  // What it has done so far: commits, syncs, and the last syncs' durations.
  stats(): GroupCommitStats;
}

export interface GroupCommitStats {
  readonly commits: number;
  readonly syncs: number;
  // Milliseconds each of the last (up to) 4096 syncs took.
  readonly recentSyncMs: readonly number[];
}

const keptSyncTimes = 4096;

// How the WAL reaches stable storage; tests hold or fail it.
export type WalSync = (handle: FileHandle) => Promise<void>;

const datasync: WalSync = (handle) => handle.datasync();

export interface GroupCommitOptions {
  // How the WAL reaches stable storage (default: fdatasync).
  readonly sync?: WalSync;
  // A sync begins at most this often: the commits of the meantime share it.
  // Each sync costs the disk a flush and this process CPU time in the
  // kernel (about 0.2 ms here), so back-to-back syncs under load would burn
  // a good part of a core; a commit waits at most this much longer.
  readonly minIntervalMs?: number;
}

// createGroupCommit syncs `walFile` (the database path + "-wal") on demand.
export function createGroupCommit(walFile: string, options: GroupCommitOptions = {}): GroupCommit {
  const sync = options.sync ?? datasync;
  const minIntervalMs = options.minIntervalMs ?? 0;
  let lastStart = Number.NEGATIVE_INFINITY;
  let commits = 0;
  let synced = 0;
  let syncs = 0;
  const syncMs: number[] = [];
  let inFlight: Promise<void> | undefined;
  let handle: FileHandle | undefined;
  // After a failed fsync the kernel may have dropped the dirty pages and a
  // later fsync can succeed without them: refuse to vouch for anything again.
  let broken: PendulumError | undefined;

  const flush = (): Promise<void> => {
    const run = async () => {
      const wait = lastStart + minIntervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      lastStart = performance.now();
      const covers = commits;
      try {
        handle ??= await open(walFile, 'r');
        await sync(handle);
        synced = Math.max(synced, covers);
        syncs++;
        syncMs.push(performance.now() - lastStart);
        if (syncMs.length > 2 * keptSyncTimes) syncMs.splice(0, keptSyncTimes);
      } catch (error) {
        broken ??= new PendulumError(
          'STORAGE_FAILED',
          `cannot sync the database journal ${walFile}; restart the server once the disk is fixed`,
          { cause: error },
        );
        throw broken;
      } finally {
        inFlight = undefined;
      }
    };
    inFlight = run();
    return inFlight;
  };

  return {
    lazy: false,
    committed() {
      commits++;
    },
    async durable() {
      const target = commits;
      while (synced < target) {
        if (broken !== undefined) throw broken;
        // A sync in flight began before this commit may have: wait it out, then start the next.
        if (inFlight !== undefined) await inFlight.catch(() => undefined);
        else await flush();
      }
    },
    async close() {
      await inFlight?.catch(() => undefined);
      await handle?.close();
      handle = undefined;
    },
    stats: () => ({ commits, syncs, recentSyncMs: syncMs.slice(-keptSyncTimes) }),
  };
}
