// Who may call what: devices only with their own fresh token, people and CI
// only with an API token whose role allows the method.
import { join } from 'node:path';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentState, DeviceService } from '../../../src/gen/pendulum/v1/device_pb.js';
import { FleetService } from '../../../src/gen/pendulum/v1/fleet_pb.js';
import { PublisherService } from '../../../src/gen/pendulum/v1/publisher_pb.js';
import { bearer } from '../../../src/rpc/auth.js';
import { createClient } from '../../../src/rpc/client.js';
import { requiredRole } from '../../../src/server/auth.js';
import { defaultServerConfig } from '../../../src/server/config.js';
import { startServer } from '../../../src/server/main.js';
import {
  generateKeyPair,
  type KeyPair,
  sha256,
  signDeviceAuth,
  toHex,
} from '../../../src/trust/index.js';
import { type Fleet, startFleet, testClass } from '../../support/fleet.js';
import { makeImage } from '../../support/images.js';
import { makeTempDir } from '../../support/temp-dir.js';

// Every check-in carries a nonce; the server only checks its length.
const nonce = new Uint8Array(16).fill(7);

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;
let channel: GrpcClient;

beforeAll(async () => {
  dir = await makeTempDir('auth');
  fleet = await startFleet(dir.path);
  channel = new GrpcClient(fleet.address, credentials.createInsecure());
});
afterAll(async () => {
  channel.close();
  await fleet.close();
  await dir.remove();
});

const deviceClient = (token?: string) =>
  createClient(DeviceService, channel, () => (token === undefined ? {} : bearer(token)));

async function authenticate(
  key: KeyPair,
  timestampMs = BigInt(Date.now()),
  classId = testClass,
): Promise<string> {
  const response = await deviceClient().authenticate({
    publicKey: key.publicKey,
    classId,
    timestampMs,
    signature: signDeviceAuth(key, classId, timestampMs),
  });
  return response.token;
}

describe('device calls', () => {
  it('refuses CheckIn, Download and Report without a token', async () => {
    const client = deviceClient();
    await expect(client.checkIn({ nonce })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(
      client.report({ deploymentId: 'x', state: DeploymentState.DOWNLOADING }),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const download = async () => {
      for await (const _ of client.download({ deploymentId: 'x', payloadId: 'y' })) return;
    };
    await expect(download()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses a made-up token', async () => {
    await expect(deviceClient('pdd_made-up').checkIn({ nonce })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it("refuses another device's deployment to a device with its own valid token", async () => {
    const owner = generateKeyPair();
    const other = generateKeyPair();
    const ownerToken = await authenticate(owner);
    const otherToken = await authenticate(other);
    const image = makeImage('auth-1');
    const deploymentId = await fleet.inject(fleet.sign(image, {}), image, owner.keyId);

    const intruder = deviceClient(otherToken);
    const download = async () => {
      for await (const _ of intruder.download({ deploymentId, payloadId: toHex(sha256(image)) }))
        return;
    };
    await expect(download()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      intruder.report({ deploymentId, state: DeploymentState.FAILED, errorCode: 'INTERNAL' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const deployment = await fleet.server.context.store.deployments.get(deploymentId);
    expect(deployment?.state).toBe('offered');

    // The owner's own token works for the same calls.
    const chunks: Uint8Array[] = [];
    for await (const chunk of deviceClient(ownerToken).download({
      deploymentId,
      payloadId: toHex(sha256(image)),
    }))
      chunks.push(chunk.data);
    expect(Buffer.concat(chunks).equals(image)).toBe(true);
  });

  it('refuses a replayed authentication request', async () => {
    const key = generateKeyPair();
    const timestampMs = BigInt(Date.now());
    await authenticate(key, timestampMs);
    await expect(authenticate(key, timestampMs)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses an authentication signed by another key', async () => {
    const key = generateKeyPair();
    const timestampMs = BigInt(Date.now());
    const forged = {
      publicKey: key.publicKey,
      classId: testClass,
      timestampMs,
      signature: signDeviceAuth(generateKeyPair(), testClass, timestampMs),
    };
    await expect(deviceClient().authenticate(forged)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('refuses a device whose clock is far off', async () => {
    await expect(
      authenticate(generateKeyPair(), BigInt(Date.now() - 3_600_000)),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('stops accepting the tokens of a rejected device', async () => {
    const key = generateKeyPair();
    const token = await authenticate(key);
    await deviceClient(token).checkIn({ nonce });
    await fleet.fleet.rejectDevice({ deviceId: key.keyId });
    await expect(deviceClient(token).checkIn({ nonce })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    await expect(authenticate(key)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });
});

describe('publisher and fleet calls', () => {
  it('refuses calls without a token or with an unknown one', async () => {
    const anonymous = createClient(PublisherService, channel);
    await expect(anonymous.listReleases({})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const unknown = createClient(FleetService, channel, () => bearer('pdl_not-a-token'));
    await expect(unknown.listDevices({})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('lets a viewer read but not publish, and only an admin change trust roots', async () => {
    const { store } = fleet.server.context;
    const viewer = (
      await store.tokens.createApiToken({ name: 'dashboard', role: 'viewer', now: new Date() })
    ).token;
    const publisherToken = (
      await store.tokens.createApiToken({ name: 'ci', role: 'publisher', now: new Date() })
    ).token;
    const asViewer = createClient(PublisherService, channel, () => bearer(viewer));
    await asViewer.listReleases({});
    await expect(
      asViewer.publishRelease({ manifest: fleet.sign(makeImage('v'), {}) }),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    const asPublisher = createClient(PublisherService, channel, () => bearer(publisherToken));
    await expect(asPublisher.putTrustRoot({})).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('names a role for every publisher and fleet method, so none is open to all or to no one by accident', () => {
    const methods = [PublisherService, FleetService].flatMap((service) =>
      service.methods.map((m) => `${service.typeName}.${m.name}`),
    );
    expect(methods.filter((name) => requiredRole[name] === undefined)).toEqual([]);
    expect(Object.keys(requiredRole).filter((name) => !methods.includes(name))).toEqual([]);
  });

  it('lets a publisher steer rollouts but only an admin label devices', async () => {
    const { store } = fleet.server.context;
    const token = (
      await store.tokens.createApiToken({ name: 'release-ci', role: 'publisher', now: new Date() })
    ).token;
    const asPublisher = createClient(FleetService, channel, () => bearer(token));
    await expect(asPublisher.pauseRollout({ rolloutId: 'nope' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      asPublisher.setDeviceLabels({ deviceId: 'nope', tags: [], groups: [] }),
    ).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('admin'),
    });
  });
});

describe('admission', () => {
  it('holds a new device pending until it is accepted, when the server is set to', async () => {
    const server = await startServer(
      defaultServerConfig({
        data_dir: join(dir.path, 'pending'),
        listen: '127.0.0.1:0',
        admission: 'pending',
      }),
      {
        log: pino({ level: 'silent' }),
      },
    );
    const local = new GrpcClient(server.address, credentials.createInsecure());
    try {
      const key = generateKeyPair();
      const devices = createClient(DeviceService, local);
      const attempt = () => {
        const timestampMs = BigInt(Date.now());
        return devices.authenticate({
          publicKey: key.publicKey,
          classId: testClass,
          timestampMs,
          signature: signDeviceAuth(key, testClass, timestampMs),
        });
      };
      await expect(attempt()).rejects.toMatchObject({
        code: 'PERMISSION_DENIED',
        message: expect.stringContaining('pending'),
      });
      const admin = server.adminToken ?? '';
      await createClient(FleetService, local, () => bearer(admin)).acceptDevice({
        deviceId: key.keyId,
      });
      await new Promise((resolve) => setTimeout(resolve, 2));
      expect((await attempt()).deviceId).toBe(key.keyId);
    } finally {
      local.close();
      await server.close();
    }
  });
});
