import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvariantError } from '../../../src/errors.js';
import type { Store } from '../../../src/server/store/index.js';
import { prepared } from '../../../src/server/store/prepared.js';
import { at, forEachBackend, openTempStore, type TempStore } from './temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
    for (const [id, classId] of [
      ['d1', 'alpha'],
      ['d2', 'alpha'],
      ['d3', 'beta'],
    ] as const) {
      await store.devices.recordAuthentication({
        id,
        publicKey: new Uint8Array(32),
        classId,
        admissionIfNew: id === 'd2' ? 'pending' : 'accepted',
        timestampMs: 1,
        now: at(0),
      });
    }
  });
  afterEach(async () => temp.cleanup());

  describe('a query compiled once', () => {
    it('answers each call with that call’s values, as the query built afresh does', async () => {
      // A constant between the two values: its parameter must stay where it is.
      const byClass = prepared(store.db, 2, (q, classId, notId) =>
        q
          .selectFrom('devices')
          .select('id')
          .where('class_id', '=', classId)
          .where('admission', '=', 'accepted')
          .where('id', '<>', notId)
          .orderBy('id'),
      );
      const afresh = async (classId: string, notId: string) =>
        (
          await store.db
            .selectFrom('devices')
            .select('id')
            .where('class_id', '=', classId)
            .where('admission', '=', 'accepted')
            .where('id', '<>', notId)
            .orderBy('id')
            .execute()
        ).map((row) => row.id);
      for (const [classId, notId] of [
        ['alpha', 'none'],
        ['alpha', 'd1'],
        ['beta', 'd1'],
        ['gamma', 'd1'],
      ] as const) {
        const rows = (await byClass(classId, notId)).map((row) => row.id);
        expect(rows).toEqual(await afresh(classId, notId));
      }
      expect((await byClass('alpha', 'none')).map((row) => row.id)).toEqual(['d1']);
    });

    it('runs inside the transaction of the store it was made for', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.devices.setAdmission('d3', 'rejected', at(1));
          // The transaction's own store sees its uncommitted write.
          expect((await tx.devices.get('d3'))?.admission).toBe('rejected');
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect((await store.devices.get('d3'))?.admission).toBe('accepted');
    });

    it('refuses a query that does not put each value in exactly one place', async () => {
      const unused = prepared(store.db, 2, (q, id) =>
        q.selectFrom('devices').select('id').where('id', '=', id),
      );
      await expect(unused('d1', 'd2')).rejects.toBeInstanceOf(InvariantError);
      const twice = prepared(store.db, 1, (q, id) =>
        q.selectFrom('devices').select('id').where('id', '=', id).where('class_id', '<>', id),
      );
      await expect(twice('d1')).rejects.toBeInstanceOf(InvariantError);
      const wrongCount = prepared(store.db, 1, (q, id) =>
        q.selectFrom('devices').select('id').where('id', '=', id),
      );
      await expect(wrongCount()).rejects.toBeInstanceOf(InvariantError);
    });
  });
});
