import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import type { Store } from '../../../src/server/store/index.js';
import { at, forEachBackend, hex64, openTempStore, publish, type TempStore } from './temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
  });
  afterEach(async () => temp.cleanup());

  describe('releases', () => {
    it('a second release with the same class and sequence is refused', async () => {
      await publish(store, { id: hex64(0xa), sequence: 7 });
      const error = await publish(store, { id: hex64(0xb), sequence: 7 }).catch((e: unknown) => e);
      expect(isPendulumError(error, 'ALREADY_EXISTS')).toBe(true);
      expect((error as Error).message).toContain('"gateway"');
      expect((error as Error).message).toContain('sequence 7');
      expect((await store.releases.list()).map((r) => r.id)).toEqual([hex64(0xa)]);
      expect(await store.releases.payloadRefs(hex64(0xb))).toEqual([]);
    });

    it('the same sequence in another class is a different release line', async () => {
      await publish(store, { id: hex64(0xa), sequence: 7 });
      await publish(store, { id: hex64(0xb), sequence: 7, classId: 'camera' });
      expect((await store.releases.list({ classId: 'camera' })).map((r) => r.id)).toEqual([
        hex64(0xb),
      ]);
    });

    it('publishing the same release again returns the stored one', async () => {
      const first = await publish(store, { id: hex64(0xa), sequence: 7, now: at(1) });
      const again = await publish(store, { id: hex64(0xa), sequence: 7, now: at(2) });
      expect(again).toEqual(first);
      expect(again.createdAt).toBe(at(1).toISOString());
      expect(await store.releases.payloadRefs(hex64(0xa))).toEqual([
        { component: 'rootfs', payloadId: hex64(100), size: 100 },
      ]);
    });

    it('a release whose payload was never uploaded is refused and leaves nothing', async () => {
      const error = await store.releases
        .insert({
          id: hex64(0xa),
          vendorId: 'acme',
          classId: 'gateway',
          sequence: 1,
          version: '1.0.0',
          expiresAt: at(100).toISOString(),
          signed: new Uint8Array([1]),
          size: 10,
          payloads: [{ component: 'rootfs', payloadId: hex64(10), size: 10 }],
          now: at(0),
        })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
      expect((error as Error).message).toContain('rootfs');
      expect(await store.releases.get(hex64(0xa))).toBeUndefined();
    });

    it('a release whose size is not the sum of its components is refused', async () => {
      await store.payloads.insert({ id: hex64(10), size: 10, now: at(0) });
      const error = await store.releases
        .insert({
          id: hex64(0xa),
          vendorId: 'acme',
          classId: 'gateway',
          sequence: 1,
          version: '1.0.0',
          expiresAt: at(100).toISOString(),
          signed: new Uint8Array([1]),
          size: 11,
          payloads: [{ component: 'rootfs', payloadId: hex64(10), size: 10 }],
          now: at(0),
        })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'SIZE_MISMATCH')).toBe(true);
    });

    it('lists components in byte order on every backend, whatever the server locale', async () => {
      const components = ['rootfs', 'Rootfs', 'boot', 'Boot-2', 'boot_1', 'app'];
      for (let i = 0; i < components.length; i++)
        await store.payloads.insert({ id: hex64(i + 1), size: 1, now: at(0) });
      await store.releases.insert({
        id: hex64(0xa),
        vendorId: 'acme',
        classId: 'gateway',
        sequence: 1,
        version: '1.0.0',
        expiresAt: at(100).toISOString(),
        signed: new Uint8Array([1]),
        size: components.length,
        payloads: components.map((component, i) => ({
          component,
          payloadId: hex64(i + 1),
          size: 1,
        })),
        now: at(0),
      });
      const listed = (await store.releases.payloadRefs(hex64(0xa))).map((ref) => ref.component);
      // SQLite's BINARY order; a locale's order would be app, boot, Boot-2, boot_1, …
      expect(listed).toEqual(['Boot-2', 'Rootfs', 'app', 'boot', 'boot_1', 'rootfs']);
    });

    it('lists newest first and keeps the signed envelope bytes exactly', async () => {
      await publish(store, { id: hex64(0xa), sequence: 1 });
      await publish(store, { id: hex64(0xc), sequence: 3 });
      await publish(store, { id: hex64(0xb), sequence: 2 });
      const releases = await store.releases.list({ classId: 'gateway' });
      expect(releases.map((r) => r.sequence)).toEqual([3, 2, 1]);
      expect(await store.releases.get(hex64(0xc))).toEqual({
        id: hex64(0xc),
        vendorId: 'acme',
        classId: 'gateway',
        sequence: 3,
        version: '1.3.0',
        expiresAt: at(86_400).toISOString(),
        signed: new Uint8Array([3, 1, 2, 3]),
        size: 100,
        createdAt: at(3).toISOString(),
      });
    });
  });
});
