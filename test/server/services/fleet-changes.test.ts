// Which fleet operations wake devices: creating or resuming a rollout wakes
// its class, relabelling a device wakes that device; pausing and aborting
// give no device anything new and wake no one. Each is logged for the other
// replicas in the transaction that makes it.
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceService, type WatchResponse } from '../../../src/gen/pendulum/v1/device_pb.js';
import { bearer } from '../../../src/rpc/auth.js';
import { createClient } from '../../../src/rpc/client.js';
import { type Fleet, startFleet, testClass } from '../../support/fleet.js';
import { makeImage } from '../../support/images.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { pause, until } from '../../support/until.js';

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;
let channel: GrpcClient;

beforeAll(async () => {
  dir = await makeTempDir('fleet-changes');
  fleet = await startFleet(dir.path, { config: { poll_interval: '1h' } });
  channel = new GrpcClient(fleet.address, credentials.createInsecure());
});
afterAll(async () => {
  channel.close();
  await fleet.close();
  await dir.remove();
});

// watching opens a device's Watch stream and counts the check-in hints on it.
async function watching() {
  const { deviceId, token } = await fleet.newDevice();
  const abort = new AbortController();
  const hints: WatchResponse[] = [];
  const reading = (async () => {
    const client = createClient(DeviceService, channel, () => bearer(token));
    for await (const message of client.watch({}, { signal: abort.signal }))
      if (message.event.case === 'checkIn') hints.push(message);
  })().catch(() => undefined);
  const before = fleet.server.watch.size;
  await until(() => fleet.server.watch.size > before);
  return {
    deviceId,
    hints,
    async close() {
      abort.abort();
      await reading;
    },
  };
}

const changes = () => fleet.server.context.store.fleetChanges.since(new Date(0), 100);

describe('fleet changes', () => {
  it('wakes the class on a new or resumed rollout and a device on new labels, and no one on pause or abort', async () => {
    const one = await watching();
    const two = await watching();
    const releaseId = await fleet.release(makeImage('2.0.0', { bytes: 4096 }), {
      version: '2.0.0',
      sequence: 2,
    });
    const { rollout } = await fleet.fleet.createRollout({ releaseId, classId: '' });
    await until(() => one.hints.length === 1 && two.hints.length === 1);
    expect((await changes()).map((c) => [c.classId, c.deviceId])).toEqual([[testClass, null]]);

    const id = rollout?.id ?? '';
    await fleet.fleet.pauseRollout({ rolloutId: id });
    await fleet.fleet.resumeRollout({ rolloutId: id });
    await until(() => one.hints.length === 2 && two.hints.length === 2);

    await fleet.fleet.setDeviceLabels({ deviceId: two.deviceId, tags: ['lab'], groups: [] });
    await until(() => two.hints.length === 3);

    await fleet.fleet.abortRollout({ rolloutId: id });
    await pause(300);
    expect([one.hints.length, two.hints.length]).toEqual([2, 3]);
    expect((await changes()).map((c) => [c.classId, c.deviceId])).toEqual([
      [testClass, null],
      [testClass, null],
      [testClass, two.deviceId],
    ]);
    await one.close();
    await two.close();
  });
});
