import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
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

  describe('payload records', () => {
    it('recording the same upload twice is a no-op', async () => {
      expect(await store.payloads.insert({ id: hex64(1), size: 5, now: at(0) })).toEqual({
        created: true,
      });
      expect(await store.payloads.insert({ id: hex64(1), size: 5, now: at(1) })).toEqual({
        created: false,
      });
      expect(await store.payloads.get(hex64(1))).toEqual({ id: hex64(1), size: 5 });
      expect(await store.payloads.get(hex64(2))).toBeUndefined();
    });

    it('the same digest with another size is refused', async () => {
      await store.payloads.insert({ id: hex64(1), size: 5, now: at(0) });
      const error = await store.payloads
        .insert({ id: hex64(1), size: 6, now: at(1) })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'SIZE_MISMATCH')).toBe(true);
    });

    it('an id that is not a hex SHA-256 is refused', async () => {
      const error = await store.payloads
        .insert({ id: 'ABC', size: 1, now: at(0) })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'INVALID_ARGUMENT')).toBe(true);
    });
  });
});
