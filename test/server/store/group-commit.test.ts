import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import { openDatabase, withoutWaiting } from '../../../src/server/store/database.js';
import type { WalSync } from '../../../src/server/store/group-commit.js';
import { createStore, type Store } from '../../../src/server/store/index.js';
import { at, hex64 } from './temp-store.js';

const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

// A WAL sync the test finishes (or fails) by hand; each call is one fdatasync.
function heldSync() {
  const pending: { finish: () => void; fail: (error: Error) => void }[] = [];
  let calls = 0;
  const sync: WalSync = async (handle) => {
    calls++;
    await new Promise<void>((finish, fail) => pending.push({ finish, fail }));
    await handle.datasync();
  };
  return {
    sync,
    calls: () => calls,
    // finishAll completes every sync waiting (once there is one).
    finishAll: async () => {
      await until(() => pending.length > 0);
      for (const p of pending.splice(0)) p.finish();
    },
    failAll: async (error: Error) => {
      await until(() => pending.length > 0);
      for (const p of pending.splice(0)) p.fail(error);
    },
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !condition(); i++) await new Promise((r) => setTimeout(r, 1));
}

// Settled tells whether a promise has settled, after letting queued work run.
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

async function openHeld(walSync: WalSync): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-group-commit-'));
  dirs.push(dir);
  // Migrations run with a sync that passes, then the test's own takes over.
  let current: WalSync = (handle) => handle.datasync();
  const store = createStore(
    await openDatabase({
      path: join(dir, 'metadata.db'),
      sqlite: { walSync: (h) => current(h) },
    }),
  );
  current = walSync;
  return store;
}

describe('group commit', () => {
  it('acknowledges a write only once the journal is synced', async () => {
    const held = heldSync();
    const store = await openHeld(held.sync);
    const write = store.payloads.insert({ id: hex64(1), size: 1, now: at(0) });
    expect(await settled(write)).toBe(false);
    await held.finishAll();
    await write;
    await store.close();
  });

  it('hands a read back at once, and makes durable() wait for what it may have seen', async () => {
    const held = heldSync();
    const store = await openHeld(held.sync);
    const write = store.payloads.insert({ id: hex64(1), size: 1, now: at(0) });
    await settled(write);
    // Another caller reads the unsynced row: the server's reply waits for durable().
    expect(await store.payloads.get(hex64(1))).toEqual({ id: hex64(1), size: 1 });
    const durable = store.durable();
    expect(await settled(durable)).toBe(false);
    await held.finishAll();
    await durable;
    await write;
    await store.close();
  });

  it('covers the writes made during one sync with one more sync, not one each', async () => {
    const held = heldSync();
    const store = await openHeld(held.sync);
    const first = store.payloads.insert({ id: hex64(1), size: 1, now: at(0) });
    await until(() => held.calls() === 1);
    expect(await settled(first)).toBe(false);
    const more = Array.from({ length: 20 }, (_, i) =>
      store.payloads.insert({ id: hex64(i + 2), size: 1, now: at(0) }),
    );
    await settled(Promise.all(more));
    expect(held.calls()).toBe(1);
    await held.finishAll();
    await first;
    await until(() => held.calls() === 2);
    await held.finishAll();
    await Promise.all(more);
    expect(held.calls()).toBe(2);
    await store.close();
  });

  it('a write made without waiting holds up neither itself nor durable(), and a later sync covers it', async () => {
    const held = heldSync();
    const store = await openHeld(held.sync);
    const lazy = withoutWaiting(store.db, (connection) =>
      connection
        .insertInto('payloads')
        .values({ id: hex64(1), size: 1, created_at: at(0).toISOString() })
        .execute(),
    );
    expect(await settled(lazy)).toBe(true);
    expect(await settled(store.durable())).toBe(true);
    expect(held.calls()).toBe(0);
    // A write that waits, made after it, still waits: its sync takes both to disk.
    const write = store.payloads.insert({ id: hex64(2), size: 1, now: at(0) });
    expect(await settled(write)).toBe(false);
    await held.finishAll();
    await write;
    expect(held.calls()).toBe(1);
    await store.close();
  });

  it('fails a write whose sync fails as STORAGE_FAILED, and every write after it', async () => {
    const held = heldSync();
    const store = await openHeld(held.sync);
    const write = store.payloads.insert({ id: hex64(1), size: 1, now: at(0) });
    await settled(write);
    await held.failAll(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    const error = await write.catch((e: unknown) => e);
    expect(isPendulumError(error, 'STORAGE_FAILED')).toBe(true);
    const later = await store.payloads
      .insert({ id: hex64(2), size: 1, now: at(0) })
      .catch((e: unknown) => e);
    expect(isPendulumError(later, 'STORAGE_FAILED')).toBe(true);
    expect(held.calls()).toBe(1);
    await store.close();
  });
});
