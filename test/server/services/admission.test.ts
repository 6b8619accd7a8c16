// Device admission: an unknown key waits for an operator unless it was
// preauthorized or brings an enrolment token; rejection and decommissioning
// take effect at once; and authentication attempts are rate-limited.
import { join } from 'node:path';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/gen/pendulum/v1/device_pb.js';
import { DeviceAdmission, FleetService } from '../../../src/gen/pendulum/v1/fleet_pb.js';
import { bearer } from '../../../src/rpc/auth.js';
import { createClient } from '../../../src/rpc/client.js';
import { defaultServerConfig } from '../../../src/server/config.js';
import { type RunningServer, startServer } from '../../../src/server/main.js';
import { generateKeyPair, type KeyPair, signDeviceAuth } from '../../../src/trust/index.js';
import { makeTempDir } from '../../support/temp-dir.js';

// Every check-in carries a nonce; the server only checks its length.
const nonce = new Uint8Array(16).fill(7);

const classId = 'acme-gateway';
let dir: { path: string; remove: () => Promise<void> };
let server: RunningServer;
let channel: GrpcClient;
let servers = 0;

async function start(overrides: Parameters<typeof defaultServerConfig>[0] = {}) {
  servers += 1;
  const running = await startServer(
    defaultServerConfig({
      data_dir: join(dir.path, `server-${servers}`),
      listen: '127.0.0.1:0',
      ...overrides,
    }),
    { log: pino({ level: 'silent' }) },
  );
  const local = new GrpcClient(running.address, credentials.createInsecure());
  const admin = running.adminToken ?? '';
  return {
    running,
    channel: local,
    fleet: createClient(FleetService, local, () => bearer(admin)),
    devices: createClient(DeviceService, local),
  };
}

let main: Awaited<ReturnType<typeof start>>;

beforeAll(async () => {
  dir = await makeTempDir('admission');
  main = await start();
  server = main.running;
  channel = main.channel;
});
afterAll(async () => {
  channel.close();
  await server.close();
  await dir.remove();
});

let lastTimestamp = 0;
async function authenticate(
  key: KeyPair,
  options: { enrolmentToken?: string; classId?: string; devices?: typeof main.devices } = {},
) {
  const asClass = options.classId ?? classId;
  // Strictly rising timestamps: the server's replay guard.
  lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
  const timestampMs = BigInt(lastTimestamp);
  return (options.devices ?? main.devices).authenticate({
    publicKey: key.publicKey,
    classId: asClass,
    timestampMs,
    signature: signDeviceAuth(key, asClass, timestampMs),
    enrolmentToken: options.enrolmentToken ?? '',
  });
}

const admissionOf = async (id: string) => {
  const { devices } = await main.fleet.listDevices({});
  const found = devices.find((d) => d.id === id);
  return found === undefined ? undefined : DeviceAdmission[found.admission];
};

describe('admission of unknown devices', () => {
  it('holds an unknown key pending by default, until an operator accepts it', async () => {
    const key = generateKeyPair();
    await expect(authenticate(key)).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('pending admission'),
    });
    expect(await admissionOf(key.keyId)).toBe('PENDING');
    await main.fleet.acceptDevice({ deviceId: key.keyId });
    expect((await authenticate(key)).deviceId).toBe(key.keyId);
  });

  it('admits a preauthorized key on its first contact', async () => {
    const key = generateKeyPair();
    const { device } = await main.fleet.preauthorizeDevice({ publicKey: key.publicKey, classId });
    expect(device?.id).toBe(key.keyId);
    expect(device?.lastSeen).toBeUndefined();
    expect((await authenticate(key)).deviceId).toBe(key.keyId);
  });

  it('rejects a preauthorized key that calls as another class', async () => {
    const key = generateKeyPair();
    await main.fleet.preauthorizeDevice({ publicKey: key.publicKey, classId });
    await expect(authenticate(key, { classId: 'other-class' })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('registered as class'),
    });
  });

  it('admits new devices that bring an enrolment token, as many as it allows', async () => {
    const { token } = await main.fleet.createEnrolmentToken({ classId, uses: 2 });
    const [a, b, c] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    expect((await authenticate(a, { enrolmentToken: token })).deviceId).toBe(a.keyId);
    expect((await authenticate(b, { enrolmentToken: token })).deviceId).toBe(b.keyId);
    await expect(authenticate(c, { enrolmentToken: token })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('used up'),
    });
    expect(await admissionOf(c.keyId)).toBe('PENDING');
  });

  it('rejects an enrolment token of another class, an unknown one, and an expired one', async () => {
    const other = await main.fleet.createEnrolmentToken({ classId: 'other-class', uses: 5 });
    await expect(
      authenticate(generateKeyPair(), { enrolmentToken: other.token }),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(
      authenticate(generateKeyPair(), { enrolmentToken: 'pde_not-a-token' }),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    const short = await main.fleet.createEnrolmentToken({
      classId,
      uses: 5,
      ttl: { seconds: 1n, nanos: 0 },
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expect(
      authenticate(generateKeyPair(), { enrolmentToken: short.token }),
    ).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('expired'),
    });
  });

  it('does not let an enrolment token readmit a rejected device', async () => {
    const key = generateKeyPair();
    await expect(authenticate(key)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await main.fleet.rejectDevice({ deviceId: key.keyId });
    const { token } = await main.fleet.createEnrolmentToken({ classId, uses: 1 });
    await expect(authenticate(key, { enrolmentToken: token })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('rejected'),
    });
  });

  it('treats the same device with a new key as a new, pending device', async () => {
    const old = generateKeyPair();
    await main.fleet.preauthorizeDevice({ publicKey: old.publicKey, classId });
    await authenticate(old);
    // The device re-keyed (a factory reset, a cloned image): nothing carries over.
    const renewed = generateKeyPair();
    await expect(authenticate(renewed)).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('pending admission'),
    });
    expect(await admissionOf(renewed.keyId)).toBe('PENDING');
    expect(await admissionOf(old.keyId)).toBe('ACCEPTED');
  });
});

describe('revoking devices', () => {
  it('refuses a decommissioned device at once, and never admits its key again', async () => {
    const key = generateKeyPair();
    await main.fleet.preauthorizeDevice({ publicKey: key.publicKey, classId });
    const { token } = await authenticate(key);
    const session = createClient(DeviceService, channel, () => bearer(token));
    await session.checkIn({ nonce });
    await main.fleet.decommissionDevice({ deviceId: key.keyId });
    // The session token it still holds stops working before it expires.
    await expect(session.checkIn({ nonce })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(authenticate(key)).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('decommissioned'),
    });
    const enrolment = await main.fleet.createEnrolmentToken({ classId, uses: 1 });
    await expect(authenticate(key, { enrolmentToken: enrolment.token })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
    await expect(
      main.fleet.preauthorizeDevice({ publicKey: key.publicKey, classId }),
    ).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(main.fleet.acceptDevice({ deviceId: key.keyId })).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
  });

  it('refuses a rejected device within its token lifetime: its session token stops at once', async () => {
    const key = generateKeyPair();
    await main.fleet.preauthorizeDevice({ publicKey: key.publicKey, classId });
    const { token } = await authenticate(key);
    const session = createClient(DeviceService, channel, () => bearer(token));
    await main.fleet.rejectDevice({ deviceId: key.keyId });
    await expect(session.checkIn({ nonce })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('binds a session token to its device and lets it expire', async () => {
    const short = await start({ device_token_ttl: '1s', admission: 'accept' });
    try {
      const key = generateKeyPair();
      const { token } = await authenticate(key, { devices: short.devices });
      const session = createClient(DeviceService, short.channel, () => bearer(token));
      await session.checkIn({ nonce });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await expect(session.checkIn({ nonce })).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
        message: expect.stringContaining('expired'),
      });
    } finally {
      short.channel.close();
      await short.running.close();
    }
  });
});

describe('rate limits on Authenticate', () => {
  it('refuses a peer over its budget before checking anything, then lets it in again', async () => {
    const limited = await start({ auth_rate: { per_peer: 3, per_device: 100 } });
    try {
      const key = generateKeyPair();
      await limited.fleet.preauthorizeDevice({ publicKey: key.publicKey, classId });
      for (let i = 0; i < 3; i++) await authenticate(key, { devices: limited.devices });
      // Even a request that would fail validation is refused by the limit first.
      await expect(
        limited.devices.authenticate({ publicKey: new Uint8Array(3), classId: '' }),
      ).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      await expect(authenticate(key, { devices: limited.devices })).rejects.toMatchObject({
        code: 'RATE_LIMITED',
        message: expect.stringContaining('retry in'),
      });
    } finally {
      limited.channel.close();
      await limited.running.close();
    }
  });

  it('refuses one device key over its budget while other devices still get in', async () => {
    const limited = await start({
      auth_rate: { per_peer: 100, per_device: 2 },
      admission: 'accept',
    });
    try {
      const noisy = generateKeyPair();
      await authenticate(noisy, { devices: limited.devices });
      await authenticate(noisy, { devices: limited.devices });
      await expect(authenticate(noisy, { devices: limited.devices })).rejects.toMatchObject({
        code: 'RATE_LIMITED',
      });
      const quiet = generateKeyPair();
      expect((await authenticate(quiet, { devices: limited.devices })).deviceId).toBe(quiet.keyId);
    } finally {
      limited.channel.close();
      await limited.running.close();
    }
  });
});
