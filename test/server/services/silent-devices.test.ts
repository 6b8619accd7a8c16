// Drop-request attacks (Uptane): a device whose requests are being dropped
// looks exactly like one with nothing to do, unless the server notices that
// it stopped calling. Silent devices are flagged after N poll intervals.
import { join } from 'node:path';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/gen/pendulum/v1/device_pb.js';
import { FleetService } from '../../../src/gen/pendulum/v1/fleet_pb.js';
import { bearer } from '../../../src/rpc/auth.js';
import { createClient } from '../../../src/rpc/client.js';
import { defaultServerConfig } from '../../../src/server/config.js';
import { type RunningServer, startServer } from '../../../src/server/main.js';
import { generateKeyPair, signDeviceAuth } from '../../../src/trust/index.js';
import { makeTempDir } from '../../support/temp-dir.js';

// Every check-in carries a nonce; the server only checks its length.
const nonce = new Uint8Array(16).fill(7);

const classId = 'acme-gateway';
let dir: { path: string; remove: () => Promise<void> };
let server: RunningServer;
let channel: GrpcClient;
// The server's clock, moved by the tests.
let clock = Date.now();

beforeAll(async () => {
  dir = await makeTempDir('silent');
  server = await startServer(
    defaultServerConfig({
      data_dir: join(dir.path, 'server'),
      listen: '127.0.0.1:0',
      poll_interval: '1m',
      silent_after_polls: 3,
      admission: 'accept',
    }),
    { log: pino({ level: 'silent' }), now: () => new Date(clock) },
  );
  channel = new GrpcClient(server.address, credentials.createInsecure());
});
afterAll(async () => {
  channel.close();
  await server.close();
  await dir.remove();
});

const fleet = () => createClient(FleetService, channel, () => bearer(server.adminToken ?? ''));

async function checkIn(key: ReturnType<typeof generateKeyPair>) {
  const timestampMs = BigInt(clock);
  const { token } = await createClient(DeviceService, channel).authenticate({
    publicKey: key.publicKey,
    classId,
    timestampMs,
    signature: signDeviceAuth(key, classId, timestampMs),
  });
  await createClient(DeviceService, channel, () => bearer(token)).checkIn({ nonce });
}

const silentIds = async () =>
  (await fleet().listDevices({ silentOnly: true })).devices.map((d) => d.id);

describe('silent devices', () => {
  it('flags a device that stopped checking in for more than N poll intervals, and clears it when it calls', async () => {
    const quiet = generateKeyPair();
    const chatty = generateKeyPair();
    await checkIn(quiet);
    await checkIn(chatty);
    expect(await silentIds()).toEqual([]);

    // Three poll intervals: still within the allowance.
    clock += 3 * 60_000;
    await checkIn(chatty);
    expect(await silentIds()).toEqual([]);

    clock += 1000;
    expect(await silentIds()).toEqual([quiet.keyId]);
    const all = (await fleet().listDevices({})).devices;
    expect(all.find((d) => d.id === quiet.keyId)?.silent).toBe(true);
    expect(all.find((d) => d.id === chatty.keyId)?.silent).toBe(false);

    await checkIn(quiet);
    expect(await silentIds()).toEqual([]);
  });

  it('does not flag a device that was never admitted or never called', async () => {
    const key = generateKeyPair();
    await fleet().preauthorizeDevice({ publicKey: key.publicKey, classId });
    clock += 24 * 3600_000;
    expect(await silentIds()).not.toContain(key.keyId);
  });
});
