import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import type { Store } from '../../../src/server/store/index.js';
import { isTokenShaped } from '../../../src/server/store/tokens.js';
import { at, forEachBackend, openTempStore, type TempStore } from './temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
  });
  afterEach(async () => temp.cleanup());

  async function addDevice(id: string): Promise<void> {
    await store.devices.recordAuthentication({
      id,
      publicKey: new Uint8Array(32),
      classId: 'c',
      admissionIfNew: 'accepted',
      timestampMs: 1,
      now: at(0),
    });
  }

  describe('API tokens', () => {
    it('a stolen copy of the database holds no usable API token', async () => {
      const { token } = await store.tokens.createApiToken({
        name: 'ci',
        role: 'publisher',
        now: at(0),
      });
      expect(token).toMatch(/^pdl_[A-Za-z0-9_-]{43}$/);
      const { rows } = await sql<Record<string, unknown>>`select * from api_tokens`.execute(
        store.db,
      );
      expect(JSON.stringify(rows)).not.toContain(token.slice(4));
    });

    it('a token resolves to its name and role until it is revoked', async () => {
      const { id, token } = await store.tokens.createApiToken({
        name: 'ci',
        role: 'publisher',
        now: at(0),
      });
      expect(await store.tokens.findApiToken(token)).toEqual({ id, name: 'ci', role: 'publisher' });
      expect(await store.tokens.countApiTokens()).toBe(1);

      await store.tokens.revokeApiToken(id, at(1));
      await store.tokens.revokeApiToken(id, at(2));
      expect(await store.tokens.findApiToken(token)).toBeUndefined();
      expect(await store.tokens.countApiTokens()).toBe(0);
    });

    it('an unknown token resolves to nothing and revoking an unknown id is NOT_FOUND', async () => {
      expect(await store.tokens.findApiToken('pdl_nope')).toBeUndefined();
      const error = await store.tokens.revokeApiToken('missing', at(0)).catch((e: unknown) => e);
      expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
    });
  });

  describe('device tokens', () => {
    it('an expired device token is refused', async () => {
      await addDevice('d1');
      const { token, expiresAt } = await store.tokens.createDeviceToken({
        deviceId: 'd1',
        ttlMs: 60_000,
        now: at(0),
      });
      expect(token).toMatch(/^pdd_[A-Za-z0-9_-]{43}$/);
      expect(expiresAt).toBe(at(60).toISOString());
      expect((await store.tokens.findDeviceToken(token, at(59)))?.deviceId).toBe('d1');
      expect(await store.tokens.findDeviceToken(token, at(60))).toBeUndefined();
    });

    it('expired tokens are swept and live ones kept', async () => {
      await addDevice('d1');
      const old = await store.tokens.createDeviceToken({
        deviceId: 'd1',
        ttlMs: 1_000,
        now: at(0),
      });
      const live = await store.tokens.createDeviceToken({
        deviceId: 'd1',
        ttlMs: 60_000,
        now: at(0),
      });
      expect(await store.tokens.deleteExpiredDeviceTokens(at(10))).toBe(1);
      expect(await store.tokens.findDeviceToken(old.token, at(0))).toBeUndefined();
      expect((await store.tokens.findDeviceToken(live.token, at(10)))?.deviceId).toBe('d1');
    });

    it('a rejected device is logged out everywhere', async () => {
      await addDevice('d1');
      await addDevice('d2');
      const a = await store.tokens.createDeviceToken({ deviceId: 'd1', ttlMs: 60_000, now: at(0) });
      await store.tokens.createDeviceToken({ deviceId: 'd1', ttlMs: 60_000, now: at(0) });
      const other = await store.tokens.createDeviceToken({
        deviceId: 'd2',
        ttlMs: 60_000,
        now: at(0),
      });
      expect(await store.tokens.deleteDeviceTokens('d1')).toBe(2);
      expect(await store.tokens.findDeviceToken(a.token, at(1))).toBeUndefined();
      expect((await store.tokens.findDeviceToken(other.token, at(1)))?.deviceId).toBe('d2');
    });

    it('a token for a device that does not exist is refused', async () => {
      const error = await store.tokens
        .createDeviceToken({ deviceId: 'ghost', ttlMs: 1000, now: at(0) })
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
    });
  });

  describe('token shapes', () => {
    it('recognises every token it issues, and nothing an attacker makes up', async () => {
      await addDevice('d1');
      const api = (await store.tokens.createApiToken({ name: 'ci', role: 'viewer', now: at(0) }))
        .token;
      const device = (
        await store.tokens.createDeviceToken({ deviceId: 'd1', ttlMs: 1, now: at(0) })
      ).token;
      expect(isTokenShaped(api, 'api')).toBe(true);
      expect(isTokenShaped(device, 'device')).toBe(true);
      expect(isTokenShaped(api, 'device')).toBe(false);
      expect(isTokenShaped(device, 'api')).toBe(false);
      for (const forged of [
        '',
        'pdd_',
        'pdd_made-up',
        `${device}x`,
        `${device.slice(0, -1)}!`,
        ' '.repeat(8000),
      ])
        expect(isTokenShaped(forged, 'device')).toBe(false);
    });
  });
});
