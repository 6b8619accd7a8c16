import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import type { Store } from '../../../src/server/store/index.js';
import { at, hex64, openTempStore, publish, type TempStore } from './temp-store.js';

let temp: TempStore;
let store: Store;

beforeEach(async () => {
  temp = await openTempStore();
  store = temp.store;
  await publish(store, { id: hex64(1), sequence: 1 });
  await publish(store, { id: hex64(2), sequence: 2 });
  await publish(store, { id: hex64(3), sequence: 3, classId: 'camera' });
});
afterEach(async () => temp.cleanup());

describe('rollouts', () => {
  it('lists rollouts newest first with their release version and sequence', async () => {
    await store.rollouts.create({ id: 'r1', releaseId: hex64(1), classId: 'gateway', now: at(10) });
    const created = await store.rollouts.create({
      id: 'r2',
      releaseId: hex64(2),
      classId: 'gateway',
      now: at(20),
    });
    expect(created).toEqual({
      id: 'r2',
      releaseId: hex64(2),
      classId: 'gateway',
      state: 'active',
      createdAt: at(20).toISOString(),
      updatedAt: at(20).toISOString(),
      version: '1.2.0',
      sequence: 2,
    });
    expect((await store.rollouts.list()).map((r) => r.id)).toEqual(['r2', 'r1']);
  });

  it('a paused or aborted rollout offers nothing to its class', async () => {
    await store.rollouts.create({ id: 'r1', releaseId: hex64(1), classId: 'gateway', now: at(10) });
    await store.rollouts.create({ id: 'r2', releaseId: hex64(2), classId: 'gateway', now: at(20) });
    await store.rollouts.create({ id: 'r3', releaseId: hex64(3), classId: 'camera', now: at(30) });

    const active = await store.rollouts.activeForClass('gateway');
    expect(active.map((r) => [r.id, r.sequence])).toEqual([
      ['r2', 2],
      ['r1', 1],
    ]);
    expect(active[0]?.signed).toEqual(new Uint8Array([2, 1, 2, 3]));
    expect(active[0]?.expiresAt).toBe(at(86_400).toISOString());

    const paused = await store.rollouts.setState('r2', 'paused', at(40));
    expect(paused).toMatchObject({
      state: 'paused',
      updatedAt: at(40).toISOString(),
      createdAt: at(20).toISOString(),
    });
    await store.rollouts.setState('r1', 'aborted', at(41));
    expect(await store.rollouts.activeForClass('gateway')).toEqual([]);
  });

  it('changing an unknown rollout is NOT_FOUND', async () => {
    const error = await store.rollouts.setState('nope', 'paused', at(0)).catch((e: unknown) => e);
    expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
    expect(await store.rollouts.get('nope')).toBeUndefined();
  });
});
