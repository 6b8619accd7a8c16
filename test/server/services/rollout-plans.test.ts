// Rollout plans through the real server: selectors by tag, group and id,
// phases that open after their soak (a device never leaves its phase), the
// newest matching rollout winning, pause, resume and abort.
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeploymentState, DeviceService } from '../../../src/gen/pendulum/v1/device_pb.js';
import { RolloutState } from '../../../src/gen/pendulum/v1/fleet_pb.js';
import { bearer } from '../../../src/rpc/auth.js';
import { createClient } from '../../../src/rpc/client.js';
import { bucketOf } from '../../../src/server/rollouts/phases.js';
import { type Fleet, startFleet } from '../../support/fleet.js';
import { makeImage } from '../../support/images.js';
import { makeTempDir } from '../../support/temp-dir.js';

const nonce = new Uint8Array(16).fill(7);
const minute = 60_000;

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;
let channel: GrpcClient;
// The server's clock: real time plus what a test moves it by.
let offsetMs = 0;

beforeEach(async () => {
  offsetMs = 0;
  dir = await makeTempDir('rollout-plans');
  fleet = await startFleet(dir.path, { now: () => new Date(Date.now() + offsetMs) });
  channel = new GrpcClient(fleet.address, credentials.createInsecure());
});
afterEach(async () => {
  channel.close();
  await fleet.close();
  await dir.remove();
});

interface TestDevice {
  readonly id: string;
  // checkIn returns the offered release's version, or undefined.
  checkIn(committedSequence?: number): Promise<string | undefined>;
  // report tells the server where the last offered deployment is.
  report(state: DeploymentState, errorCode?: string): Promise<void>;
}

async function newDevice(labels: { tags?: string[]; groups?: string[] } = {}): Promise<TestDevice> {
  const { deviceId, token } = await fleet.newDevice();
  if (labels.tags !== undefined || labels.groups !== undefined) {
    await fleet.fleet.setDeviceLabels({
      deviceId,
      tags: labels.tags ?? [],
      groups: labels.groups ?? [],
    });
  }
  const client = createClient(DeviceService, channel, () => bearer(token));
  let deploymentId = '';
  let sequence = 0;
  return {
    id: deviceId,
    async report(state, errorCode = '') {
      await client.report({ deploymentId, state, errorCode, sequence: BigInt(++sequence) });
    },
    async checkIn(committedSequence = 0) {
      const { offer } = await client.checkIn({
        nonce,
        status: { committedSequence: BigInt(committedSequence) },
      });
      if (offer === undefined) return undefined;
      deploymentId = offer.deploymentId;
      const { devices } = await fleet.fleet.listDevices({});
      const deployment = devices
        .find((d) => d.id === deviceId)
        ?.deployments.find((d) => d.id === offer.deploymentId);
      return deployment?.version;
    },
  };
}

const release = (version: string, sequence: number) =>
  fleet.release(makeImage(version, { bytes: 4096 }), { version, sequence });

describe('rollout selectors', () => {
  it('offers a release only to the devices the selector picks: every tag, any group, or named', async () => {
    const both = await newDevice({ tags: ['eu', 'lab'], groups: ['beta'] });
    const otherGroup = await newDevice({ tags: ['eu', 'lab'], groups: ['gamma'] });
    const missingTag = await newDevice({ tags: ['eu'], groups: ['beta'] });
    const named = await newDevice();
    const unlabelled = await newDevice();
    const releaseId = await release('2.0.0', 2);
    await fleet.fleet.createRollout({
      releaseId,
      classId: '',
      selector: { tags: ['eu', 'lab'], groups: ['beta', 'delta'], deviceIds: [named.id] },
    });
    expect(await both.checkIn()).toBe('2.0.0');
    expect(await named.checkIn()).toBe('2.0.0');
    expect(await otherGroup.checkIn()).toBeUndefined();
    expect(await missingTag.checkIn()).toBeUndefined();
    expect(await unlabelled.checkIn()).toBeUndefined();
  });

  it('with only device ids, reaches those devices and no one else', async () => {
    const named = await newDevice();
    const other = await newDevice();
    const releaseId = await release('2.0.0', 2);
    await fleet.fleet.createRollout({
      releaseId,
      classId: '',
      selector: { deviceIds: [named.id] },
    });
    expect(await named.checkIn()).toBe('2.0.0');
    expect(await other.checkIn()).toBeUndefined();
  });

  it('refuses a bad label and changes nothing', async () => {
    const device = await newDevice({ tags: ['eu'] });
    await expect(
      fleet.fleet.setDeviceLabels({ deviceId: device.id, tags: ['no spaces'], groups: [] }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const { devices } = await fleet.fleet.listDevices({});
    expect(devices.find((d) => d.id === device.id)?.tags).toEqual(['eu']);
  });
});

describe('rollout phases', () => {
  it('reaches its first share at once and everyone after the soak, and no device leaves its phase', async () => {
    const devices = await Promise.all(Array.from({ length: 30 }, () => newDevice()));
    const releaseId = await release('2.0.0', 2);
    const { rollout } = await fleet.fleet.createRollout({
      releaseId,
      classId: '',
      phases: [
        { percent: 30, minSoak: { seconds: 600n } },
        { percent: 100, minSoak: {} },
      ],
    });
    const rolloutId = rollout?.id ?? '';
    const inFirst = devices.filter((d) => bucketOf(rolloutId, d.id) < 3000);
    // The hash must split this fleet, or the test shows nothing.
    expect(inFirst.length).toBeGreaterThan(0);
    expect(inFirst.length).toBeLessThan(devices.length);
    for (const device of devices)
      expect(await device.checkIn(), device.id).toBe(
        inFirst.includes(device) ? '2.0.0' : undefined,
      );

    // Not soaked yet: the controller holds.
    offsetMs = 9 * minute;
    expect(await fleet.server.rollouts.tick()).toEqual([]);
    expect(await devices.find((d) => !inFirst.includes(d))?.checkIn()).toBeUndefined();

    offsetMs = 10 * minute;
    expect(await fleet.server.rollouts.tick()).toHaveLength(1);
    const listed = (await fleet.fleet.listRollouts({})).rollouts[0];
    expect(listed?.currentPhase).toBe(1);
    for (const device of devices) expect(await device.checkIn(), device.id).toBe('2.0.0');
  });
});

describe('rollout status', () => {
  it('counts devices per phase and stage, says why deployments failed, and times the stages', async () => {
    const devices = await Promise.all(Array.from({ length: 30 }, () => newDevice()));
    const releaseId = await release('2.0.0', 2);
    const { rollout } = await fleet.fleet.createRollout({
      releaseId,
      classId: '',
      phases: [
        { percent: 30, minSoak: { seconds: 3600n } },
        { percent: 100, minSoak: {} },
      ],
    });
    const rolloutId = rollout?.id ?? '';
    const inFirst = devices.filter((d) => bucketOf(rolloutId, d.id) < 3000);
    expect(inFirst.length).toBeGreaterThanOrEqual(3);
    const [downloading, failing, untouched] = inFirst;
    await downloading?.checkIn();
    await downloading?.report(DeploymentState.DOWNLOADING);
    await failing?.checkIn();
    await failing?.report(DeploymentState.DOWNLOADING);
    await failing?.report(DeploymentState.FAILED, 'DIGEST_MISMATCH');
    await untouched?.checkIn();

    const status = await fleet.fleet.getRolloutStatus({ rolloutId });
    expect(status.selected).toBe(30);
    expect(status.phases.map((p) => [p.percent, p.open, p.devices])).toEqual([
      [30, true, inFirst.length],
      [100, false, 30 - inFirst.length],
    ]);
    expect(status.phases[0]?.counts).toMatchObject({
      pending: inFirst.length - 2,
      downloading: 1,
      failed: 1,
      committed: 0,
    });
    expect(status.failureReasons).toEqual({ DIGEST_MISMATCH: 1 });
    const start = status.stageTimes.find((t) => t.stage === 'start');
    expect(start?.samples).toBe(2);
    await expect(fleet.fleet.getRolloutStatus({ rolloutId: 'nope' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('reads the audit log by subject and action', async () => {
    const releaseId = await release('2.0.0', 2);
    const { rollout } = await fleet.fleet.createRollout({ releaseId, classId: '' });
    const rolloutId = rollout?.id ?? '';
    await fleet.fleet.pauseRollout({ rolloutId });
    const { entries } = await fleet.fleet.listAuditLog({ subject: rolloutId });
    expect(entries.map((e) => [e.actor, e.action])).toEqual([
      ['token:admin', 'rollout.pause'],
      ['token:admin', 'rollout.create'],
    ]);
    expect(JSON.parse(entries[1]?.detailJson ?? '{}')).toMatchObject({ release: releaseId });
    const published = await fleet.fleet.listAuditLog({ actionPrefix: 'release.' });
    expect(published.entries.map((e) => e.subject)).toEqual([releaseId]);
    await expect(fleet.fleet.listAuditLog({ limit: 1001 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('post-commit health reports', () => {
  it('refuses a check-in whose health record names a time that is not one, recording nothing', async () => {
    const { deviceId, token } = await fleet.newDevice();
    const client = createClient(DeviceService, channel, () => bearer(token));
    await expect(
      client.checkIn({
        nonce,
        status: {
          installedVersion: '9.9.9',
          health: { committedAt: { seconds: 0x7fffffffffffffffn }, checksFailed: 1 },
        },
      }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('committed_at'),
    });
    const { devices } = await fleet.fleet.listDevices({});
    expect(devices.find((d) => d.id === deviceId)?.installedVersion).toBe('');
  });
});

describe('overlapping rollouts', () => {
  it('lets the newest matching rollout win, and never offers what the device has committed or passed', async () => {
    const device = await newDevice({ tags: ['canary'] });
    const older = await release('3.0.0', 3);
    const newer = await release('2.5.0', 2);
    await fleet.fleet.createRollout({ releaseId: older, classId: '' });
    await fleet.fleet.createRollout({
      releaseId: newer,
      classId: '',
      selector: { tags: ['canary'] },
    });
    expect(await device.checkIn(1)).toBe('2.5.0');
    // A device already at 3 is offered neither.
    const ahead = await newDevice({ tags: ['canary'] });
    expect(await ahead.checkIn(3)).toBeUndefined();
  });
});

describe('pause, resume and abort', () => {
  it('a paused rollout offers nothing new until resumed; an aborted one never again, cancelling unstarted offers', async () => {
    const early = await newDevice();
    const late = await newDevice();
    const releaseId = await release('2.0.0', 2);
    const { rollout } = await fleet.fleet.createRollout({ releaseId, classId: '' });
    const rolloutId = rollout?.id ?? '';
    expect(await early.checkIn()).toBe('2.0.0');

    const paused = await fleet.fleet.pauseRollout({ rolloutId });
    expect(paused.rollout?.state).toBe(RolloutState.PAUSED);
    expect(await late.checkIn()).toBeUndefined();
    // Pausing again changes nothing and is fine.
    await fleet.fleet.pauseRollout({ rolloutId });
    await fleet.fleet.resumeRollout({ rolloutId });
    expect(await late.checkIn()).toBe('2.0.0');

    await fleet.fleet.pauseRollout({ rolloutId });
    const aborted = await fleet.fleet.abortRollout({ rolloutId });
    expect(aborted.rollout?.state).toBe(RolloutState.ABORTED);
    expect(await early.checkIn()).toBeUndefined();
    const { devices } = await fleet.fleet.listDevices({});
    const cancelled = devices.find((d) => d.id === early.id)?.deployments[0];
    expect(cancelled).toMatchObject({
      state: DeploymentState.FAILED,
      errorCode: 'ROLLOUT_ABORTED',
    });
    await expect(fleet.fleet.resumeRollout({ rolloutId })).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringContaining('aborted'),
    });
    const audit = await fleet.server.context.store.audit.list({ limit: 20 });
    expect(
      audit
        .filter((e) => e.subject === rolloutId)
        .map((e) => [e.actor, e.action])
        .reverse(),
    ).toEqual([
      ['token:admin', 'rollout.create'],
      ['token:admin', 'rollout.pause'],
      ['token:admin', 'rollout.resume'],
      ['token:admin', 'rollout.pause'],
      ['token:admin', 'rollout.abort'],
      ['token:admin', 'rollout.cancel_unstarted'],
    ]);
  });

  it('refuses a plan it cannot follow, naming the field, and creates nothing', async () => {
    const releaseId = await release('2.0.0', 2);
    await expect(
      fleet.fleet.createRollout({ releaseId, classId: '', phases: [{ percent: 50 }] }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('100') });
    await expect(
      fleet.fleet.createRollout({
        releaseId,
        classId: '',
        window: { cron: '0 25 * * *', duration: { seconds: 3600n }, timezone: 'Europe/Berlin' },
      }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('window'),
    });
    await expect(
      fleet.fleet.createRollout({ releaseId, classId: '', failureThreshold: {} }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await fleet.fleet.listRollouts({})).rollouts).toEqual([]);
  });

  it('shows the plan it keeps', async () => {
    const releaseId = await release('2.0.0', 2);
    const { rollout } = await fleet.fleet.createRollout({
      releaseId,
      classId: '',
      selector: { tags: ['eu'] },
      phases: [
        { percent: 5, minSoak: { seconds: 3600n } },
        { percent: 100, minSoak: {} },
      ],
      failureThreshold: { limit: { case: 'maxFailureRatio', value: 0.1 }, minFinished: 20 },
      window: { cron: '0 2 * * *', duration: { seconds: 14_400n }, timezone: 'Europe/Berlin' },
    });
    expect(rollout?.selector?.tags).toEqual(['eu']);
    expect(rollout?.phases.map((p) => [p.percent, Number(p.minSoak?.seconds)])).toEqual([
      [5, 3600],
      [100, 0],
    ]);
    expect(rollout?.failureThreshold?.limit).toEqual({ case: 'maxFailureRatio', value: 0.1 });
    expect(rollout?.failureThreshold?.minFinished).toBe(20);
    expect(rollout?.window?.cron).toBe('0 2 * * *');
    expect(rollout?.currentPhase).toBe(0);
  });
});
