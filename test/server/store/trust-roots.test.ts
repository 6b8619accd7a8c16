import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
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

  const root = (version: number) => ({
    version,
    vendorId: 'acme',
    signed: new Uint8Array([version, 0, 255, 1]),
    expiresAt: at(86_400 * version).toISOString(),
    now: at(version),
  });

  describe('trust roots', () => {
    it('the latest root is the highest version, with its envelope bytes exactly as stored', async () => {
      expect(await store.trustRoots.latest()).toBeUndefined();
      await store.trustRoots.insert(root(1));
      await store.trustRoots.insert(root(2));
      expect(await store.trustRoots.latest()).toEqual({
        version: 2,
        vendorId: 'acme',
        signed: new Uint8Array([2, 0, 255, 1]),
        expiresAt: at(86_400 * 2).toISOString(),
        createdAt: at(2).toISOString(),
      });
    });

    it('a device is handed every root after its own, in order', async () => {
      for (const version of [3, 1, 2]) await store.trustRoots.insert(root(version));
      expect((await store.trustRoots.after(1)).map((r) => r.version)).toEqual([2, 3]);
      expect(await store.trustRoots.after(3)).toEqual([]);
    });

    it('a stored root version cannot be replaced', async () => {
      await store.trustRoots.insert(root(1));
      const error = await store.trustRoots
        .insert({ ...root(1), signed: new Uint8Array([9]) })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'ALREADY_EXISTS')).toBe(true);
      expect((await store.trustRoots.latest())?.signed).toEqual(new Uint8Array([1, 0, 255, 1]));
    });
  });
});
