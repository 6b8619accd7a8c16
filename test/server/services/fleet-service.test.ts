// FleetService against a real server: rollouts only of releases that exist,
// for the class they were signed for; devices with their history.
import { setTimeout as sleep } from 'node:timers/promises';
import { toBinary } from '@bufbuild/protobuf';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentState, DeviceService, Slot } from '../../../src/gen/pendulum/v1/device_pb.js';
import { DeviceAdmission, RolloutState } from '../../../src/gen/pendulum/v1/fleet_pb.js';
import { SignedSchema } from '../../../src/gen/pendulum/v1/manifest_pb.js';
import { bearer } from '../../../src/rpc/auth.js';
import { createClient } from '../../../src/rpc/client.js';
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
  dir = await makeTempDir('fleet-service');
  fleet = await startFleet(dir.path);
  channel = new GrpcClient(fleet.address, credentials.createInsecure());
});
afterAll(async () => {
  channel.close();
  await fleet.close();
  await dir.remove();
});

const small = (name: string) => makeImage(name, { bytes: 64 * 1024 + 1 });

// publishOnly uploads and publishes a release without rolling it out.
const publishOnly = (name: string, sequence: number) =>
  fleet.release(small(name), { sequence, version: name });

// enrol authenticates a new device and returns a client acting as it.
async function enrol(key: KeyPair = generateKeyPair(), classId = testClass) {
  const timestampMs = BigInt(Date.now());
  const { token } = await createClient(DeviceService, channel).authenticate({
    publicKey: key.publicKey,
    classId,
    timestampMs,
    signature: signDeviceAuth(key, classId, timestampMs),
  });
  return { id: key.keyId, client: createClient(DeviceService, channel, () => bearer(token)) };
}

describe('rollouts', () => {
  it('refuses a rollout of a release that does not exist', async () => {
    await expect(
      fleet.fleet.createRollout({ releaseId: toHex(sha256(Buffer.from('nope'))), classId: '' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('release') });
    await expect(fleet.fleet.createRollout({ releaseId: '', classId: '' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('refuses to roll a release out to a class it was not signed for', async () => {
    const releaseId = await publishOnly('rollout-class', 10);
    await expect(
      fleet.fleet.createRollout({ releaseId, classId: 'other-gadget' }),
    ).rejects.toMatchObject({
      code: 'INCOMPATIBLE',
      message: expect.stringContaining('other-gadget'),
    });
    const { rollouts } = await fleet.fleet.listRollouts({});
    expect(rollouts.filter((r) => r.releaseId === releaseId)).toEqual([]);
  });

  it('refuses to roll out a release that has expired since it was published', async () => {
    const image = small('expired-release');
    const releaseId = toHex(sha256(image));
    const payloadId = toHex(sha256(image));
    const { store } = fleet.server.context;
    await store.payloads.insert({ id: payloadId, size: image.length, now: new Date() });
    await store.releases.insert({
      id: releaseId,
      vendorId: 'acme',
      classId: testClass,
      sequence: 11,
      version: 'expired-release',
      expiresAt: new Date(Date.now() - 1000).toISOString(),
      signed: toBinary(SignedSchema, fleet.sign(image, { sequence: 11 })),
      size: image.length,
      payloads: [{ component: 'rootfs', payloadId, size: image.length }],
      now: new Date(),
    });
    await expect(fleet.fleet.createRollout({ releaseId, classId: '' })).rejects.toMatchObject({
      code: 'EXPIRED',
    });
  });

  it('rolls a release out to its own class when none is given, and lists it newest first', async () => {
    const first = await publishOnly('rollout-first', 12);
    const second = await publishOnly('rollout-second', 13);
    const a = await fleet.fleet.createRollout({ releaseId: first, classId: '' });
    await sleep(2);
    const b = await fleet.fleet.createRollout({ releaseId: second, classId: testClass });
    expect(a.rollout).toMatchObject({
      classId: testClass,
      version: 'rollout-first',
      sequence: 12n,
      state: RolloutState.ACTIVE,
    });
    const { rollouts } = await fleet.fleet.listRollouts({});
    const ids = rollouts.map((r) => r.id);
    expect(ids.indexOf(b.rollout?.id ?? '')).toBeLessThan(ids.indexOf(a.rollout?.id ?? ''));
  });
});

describe('devices', () => {
  it('shows each device with its deployment history, newest first', async () => {
    const { store } = fleet.server.context;
    // A class of its own, so the rollouts of other tests are not offered to it.
    const classId = 'history-gadget';
    const device = await enrol(generateKeyPair(), classId);
    const status = {
      bootedSlot: Slot.A,
      installedVersion: '1.0.0',
      committedSequence: 1n,
      trustRootVersion: 1,
      agentState: 'idle',
      inventory: { kernel: '6.6' },
    };
    await device.client.checkIn({ status, nonce });

    // A device offered two releases, one after the other: the first rolls back.
    const failedRelease = await fleet.publish(small('history-old'), {
      classId,
      sequence: 20,
      version: '2.0.0',
    });
    const first = await device.client.checkIn({ status, nonce });
    expect(first.offer?.manifest).toBeDefined();
    await device.client.report({
      deploymentId: first.offer?.deploymentId ?? '',
      state: DeploymentState.ROLLED_BACK,
      errorCode: 'HEALTH_CHECK_FAILED',
      message: 'image self-test failed',
      sequence: 1n,
    });
    await sleep(2);
    await fleet.publish(small('history-new'), { classId, sequence: 21, version: '2.1.0' });
    const second = await device.client.checkIn({ status, nonce });
    expect(second.offer?.deploymentId).not.toBe(first.offer?.deploymentId);
    await device.client.report({
      deploymentId: second.offer?.deploymentId ?? '',
      state: DeploymentState.DOWNLOADING,
      bytesDone: 1024n,
      bytesTotal: 65537n,
      sequence: 2n,
    });

    const { devices } = await fleet.fleet.listDevices({ classId });
    const listed = devices.find((d) => d.id === device.id);
    expect(listed).toMatchObject({
      classId,
      admission: DeviceAdmission.ACCEPTED,
      installedVersion: '1.0.0',
      bootedSlot: Slot.A,
      agentState: 'idle',
      inventory: { kernel: '6.6' },
    });
    expect(
      listed?.deployments.map((d) => [d.version, DeploymentState[d.state], d.errorCode]),
    ).toEqual([
      ['2.1.0', 'DOWNLOADING', ''],
      ['2.0.0', 'ROLLED_BACK', 'HEALTH_CHECK_FAILED'],
    ]);
    expect(listed?.deployments[0]?.bytesDone).toBe(1024n);
    expect(listed?.deployments[1]?.releaseId).toBe(failedRelease);
    expect(listed?.deployments[1]?.message).toBe('image self-test failed');
    // The store agrees: nothing was invented on the way out.
    expect((await store.deployments.listForDevices([device.id])).get(device.id)).toHaveLength(2);
  });

  it('lists only the class asked for', async () => {
    const gadget = await enrol(generateKeyPair(), 'other-gadget');
    const { devices } = await fleet.fleet.listDevices({ classId: 'other-gadget' });
    expect(devices.map((d) => d.id)).toEqual([gadget.id]);
    const all = await fleet.fleet.listDevices({ classId: '' });
    expect(all.devices.map((d) => d.id)).toContain(gadget.id);
    expect(all.devices.length).toBeGreaterThan(1);
  });

  it('says NOT_FOUND when accepting or rejecting a device it has never seen', async () => {
    const unknown = generateKeyPair().keyId;
    await expect(fleet.fleet.acceptDevice({ deviceId: unknown })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(fleet.fleet.rejectDevice({ deviceId: unknown })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await fleet.server.context.store.devices.get(unknown)).toBeUndefined();
  });

  it('records who rejected a device in the audit log', async () => {
    const device = await enrol();
    const { device: rejected } = await fleet.fleet.rejectDevice({ deviceId: device.id });
    expect(rejected?.admission).toBe(DeviceAdmission.REJECTED);
    const entries = await fleet.server.context.store.audit.list({ limit: 1000 });
    expect(entries.filter((e) => e.subject === device.id).map((e) => [e.actor, e.action])).toEqual([
      ['token:admin', 'device.rejected'],
    ]);
  });
});
