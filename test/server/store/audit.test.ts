import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/server/store/index.js';
import { at, forEachBackend, openTempStore, type TempStore } from './temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
  });
  afterEach(async () => temp.cleanup());

  describe('audit log', () => {
    it('lists the latest entries newest first, with their detail intact', async () => {
      for (let i = 0; i < 5; i++) {
        await store.audit.append({
          actor: 'token:ci',
          action: 'release.publish',
          subject: `r${i}`,
          detail: { sequence: i, tags: ['a'] },
          now: at(i),
        });
      }
      const entries = await store.audit.list({ limit: 3 });
      expect(entries.map((e) => e.subject)).toEqual(['r4', 'r3', 'r2']);
      expect(entries[0]).toMatchObject({
        actor: 'token:ci',
        action: 'release.publish',
        at: at(4).toISOString(),
        detail: { sequence: 4, tags: ['a'] },
      });
    });
  });
});
