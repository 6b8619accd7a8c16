import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/server/store/index.js';
import { at, forEachBackend, hex64, openTempStore, type TempStore } from './temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
  });
  afterEach(async () => temp.cleanup());

  describe('store transactions', () => {
    it('a transaction that throws leaves no rows', async () => {
      const error = await store
        .transaction(async (trx) => {
          await trx.payloads.insert({ id: hex64(1), size: 1, now: at(0) });
          await trx.audit.append({
            actor: 'test',
            action: 'payload.upload',
            subject: hex64(1),
            detail: {},
            now: at(0),
          });
          throw new Error('crash after the writes');
        })
        .catch((e: unknown) => e);
      expect((error as Error).message).toContain('crash after the writes');
      expect(await store.payloads.get(hex64(1))).toBeUndefined();
      expect(await store.audit.list({ limit: 10 })).toEqual([]);
    });

    it('the writes of a transaction commit together, nested calls included', async () => {
      const result = await store.transaction(async (trx) => {
        await trx.payloads.insert({ id: hex64(1), size: 1, now: at(0) });
        return trx.transaction(async (inner) => {
          await inner.audit.append({
            actor: 'test',
            action: 'payload.upload',
            subject: hex64(1),
            detail: {},
            now: at(0),
          });
          return 'done';
        });
      });
      expect(result).toBe('done');
      expect(await store.payloads.get(hex64(1))).toEqual({ id: hex64(1), size: 1 });
      expect(await store.audit.list({ limit: 10 })).toHaveLength(1);
    });

    it('a repository call that fails inside a transaction rolls back the others', async () => {
      await store.payloads.insert({ id: hex64(1), size: 1, now: at(0) });
      const error = await store
        .transaction(async (trx) => {
          await trx.audit.append({
            actor: 'test',
            action: 'x',
            subject: 'y',
            detail: {},
            now: at(0),
          });
          await trx.payloads.insert({ id: hex64(1), size: 2, now: at(0) });
        })
        .catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('SIZE_MISMATCH');
      expect(await store.audit.list({ limit: 10 })).toEqual([]);
    });
  });
});
