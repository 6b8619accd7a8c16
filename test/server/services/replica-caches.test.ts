// What a replica caches (device tokens, active rollouts; cache_ttl) never
// outlives its bound, and never makes an offer on its own: two servers on one
// database, changes made through the other.
import { join } from 'node:path';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/gen/pendulum/v1/device_pb.js';
import { FleetService } from '../../../src/gen/pendulum/v1/fleet_pb.js';
import { bearer } from '../../../src/rpc/auth.js';
import { createClient } from '../../../src/rpc/client.js';
import { defaultServerConfig } from '../../../src/server/config.js';
import { type RunningServer, startServer } from '../../../src/server/main.js';
import { type Fleet, startFleet } from '../../support/fleet.js';
import { makeImage } from '../../support/images.js';
import { makeTempDir } from '../../support/temp-dir.js';

const nonce = new Uint8Array(16).fill(7);
const cacheTtlMs = 500;

let dir: { path: string; remove: () => Promise<void> };
// Replica A serves the devices; B is where the operator's changes go.
let fleet: Fleet;
let replicaB: RunningServer;
let channels: GrpcClient[];
let fleetB: ReturnType<typeof createClient<(typeof FleetService)['method']>>;

beforeEach(async () => {
  dir = await makeTempDir('replica-caches');
  fleet = await startFleet(dir.path, { config: { cache_ttl: `${cacheTtlMs}ms` } });
  replicaB = await startServer(
    defaultServerConfig({
      data_dir: join(dir.path, 'server'),
      timestamp_key: join(dir.path, 'timestamp.key'),
      listen: '127.0.0.1:0',
      admission: 'accept',
      cache_ttl: `${cacheTtlMs}ms`,
    }),
    { log: pino({ level: 'silent' }) },
  );
  const admin = fleet.server.adminToken ?? '';
  const toB = new GrpcClient(replicaB.address, credentials.createInsecure());
  channels = [toB];
  fleetB = createClient(FleetService, toB, () => bearer(admin));
});
afterEach(async () => {
  for (const channel of channels) channel.close();
  await replicaB.close();
  await fleet.close();
  await dir.remove();
});

// device authenticates and checks in through replica A.
async function device() {
  const { deviceId, token } = await fleet.newDevice();
  const channel = new GrpcClient(fleet.address, credentials.createInsecure());
  channels.push(channel);
  const client = createClient(DeviceService, channel, () => bearer(token));
  return {
    id: deviceId,
    checkIn: () => client.checkIn({ nonce, status: { committedSequence: 1n } }),
  };
}

const release = (version: string, sequence: number) =>
  fleet.release(makeImage(version, { bytes: 4096 }), { version, sequence });

const pastTheCache = () => new Promise((resolve) => setTimeout(resolve, cacheTtlMs + 200));

describe('caches of one replica, changes through another', () => {
  it('refuses a device rejected through another replica within cache_ttl', async () => {
    const d = await device();
    await d.checkIn();
    await fleetB.rejectDevice({ deviceId: d.id });
    await pastTheCache();
    await expect(d.checkIn()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('never offers a rollout aborted through another replica, whatever it cached', async () => {
    const first = await device();
    const second = await device();
    const releaseId = await release('2.0.0', 2);
    const { rollout } = await fleet.fleet.createRollout({ releaseId, classId: '' });
    // Replica A now holds the rollout as active.
    expect((await first.checkIn()).offer).toBeDefined();
    await fleetB.abortRollout({ rolloutId: rollout?.id ?? '' });
    expect((await second.checkIn()).offer).toBeUndefined();
  });

  it('offers the newest rollout, though it was created through another replica after a cached read', async () => {
    const first = await device();
    const second = await device();
    const older = await release('2.0.0', 2);
    await fleet.fleet.createRollout({ releaseId: older, classId: '' });
    expect((await first.checkIn()).offer).toBeDefined();
    const newer = await release('3.0.0', 3);
    await fleetB.createRollout({ releaseId: newer, classId: '' });
    const { offer } = await second.checkIn();
    const { devices } = await fleet.fleet.listDevices({});
    const offered = devices
      .find((d) => d.id === second.id)
      ?.deployments.find((d) => d.id === offer?.deploymentId);
    expect(offered?.version).toBe('3.0.0');
  });

  it('offers a rollout created through another replica within cache_ttl', async () => {
    const d = await device();
    expect((await d.checkIn()).offer).toBeUndefined();
    const releaseId = await release('2.0.0', 2);
    await fleetB.createRollout({ releaseId, classId: '' });
    await pastTheCache();
    expect((await d.checkIn()).offer).toBeDefined();
  });
});
