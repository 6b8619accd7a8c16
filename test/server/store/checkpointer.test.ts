// Checkpoints on a thread of their own (store/checkpointer.ts): the server's
// connection never stops to fold the WAL into the database file.
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/server/store/database.js';
import { createStore } from '../../../src/server/store/index.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { at } from './temp-store.js';

let dir: { path: string; remove: () => Promise<void> } | undefined;
afterEach(async () => {
  await dir?.remove();
});

const size = async (file: string) => (await stat(file)).size;

describe('the checkpoint thread', () => {
  it('folds committed writes into the database file while the server connection only commits', async () => {
    dir = await makeTempDir('checkpointer');
    const path = join(dir.path, 'metadata.db');
    const store = createStore(
      await openDatabase({ path, sqlite: { checkpointLog: pino({ level: 'silent' }) } }),
    );
    try {
      // The server's connection would checkpoint only past 64 MiB of WAL.
      const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(
        store.db,
      );
      expect(rows[0]?.wal_autocheckpoint).toBe(16_384);
      const before = await size(path);
      // About 4 MiB in 200 commits: below the server connection's own threshold.
      const detail = { blob: 'x'.repeat(20 * 1024) };
      for (let i = 0; i < 200; i++)
        await store.audit.append({
          actor: 't',
          action: 'a',
          subject: String(i),
          detail,
          now: at(i),
        });
      let after = await size(path);
      for (let waited = 0; after < before + 3 * 1024 * 1024 && waited < 10_000; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await size(path);
      }
      expect(after).toBeGreaterThanOrEqual(before + 3 * 1024 * 1024);
      expect((await store.audit.list({ limit: 1 }))[0]?.subject).toBe('199');
    } finally {
      await store.close();
    }
  });

  it('is waited for on close: a process with nothing else to do does not exit half-way', async () => {
    dir = await makeTempDir('checkpointer-exit');
    const module = (file: string) => pathToFileURL(resolve('dist/server/store', file)).href;
    const script = `
      const { openDatabase } = await import(${JSON.stringify(module('database.js'))});
      const { createStore } = await import(${JSON.stringify(module('index.js'))});
      const { pino } = await import('pino');
      const store = createStore(await openDatabase({
        path: ${JSON.stringify(join(dir.path, 'metadata.db'))},
        checkpointLog: pino({ level: 'silent' }),
      }));
      await store.audit.append({ actor: 't', action: 'a', subject: 's', detail: {}, now: new Date() });
      // At once: the checkpoint thread may still be starting when it is asked to stop.
      await store.close();
      console.log('closed');
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: resolve('.') },
    );
    expect(stdout.trim()).toBe('closed');
  });
});
