// A rollout's maintenance window end to end: the real agent installs the
// release outside the window and stops there, slot armed never, server told
// "installed" and when the window opens; inside the window it commits.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentState } from '../../src/gen/pendulum/v1/device_pb.js';
import { makeDevice } from '../support/device.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { makeImage, sha256Hex } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';

const hour = 3_600_000;

describe('maintenance windows', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: Fleet;

  beforeAll(async () => {
    dir = await makeTempDir('window-e2e');
    fleet = await startFleet(dir.path);
  });
  afterAll(async () => {
    await fleet.close();
    await dir.remove();
  });

  const rollOut = async (classId: string, window: { cron: string; hours: number }) => {
    const device = await makeDevice(join(dir.path, classId), fleet, { classId });
    await device.settle();
    const image = makeImage(`2.0.0-${classId}`);
    const releaseId = await fleet.release(image, {
      version: `2.0.0-${classId}`,
      sequence: 2,
      classId,
    });
    await fleet.fleet.createRollout({
      releaseId,
      classId,
      window: {
        cron: window.cron,
        duration: { seconds: BigInt(window.hours * 3600) },
        timezone: 'UTC',
      },
    });
    return { device, image };
  };

  it('installs outside the window, then waits without touching the bootloader', async () => {
    // Opens in twelve hours, for one hour: closed now.
    const opens = new Date(Math.floor((Date.now() + 12 * hour) / hour) * hour);
    const { device, image } = await rollOut('closed', {
      cron: `0 ${opens.getUTCHours()} * * *`,
      hours: 1,
    });
    const envBefore = await device.envBytes();
    const run = await device.runAgent();
    expect(run.result).toBe('waiting');
    expect(await device.envBytes()).toEqual(envBefore);
    expect(await device.booted()).toBe('A');
    expect(await device.slotDigest('B', image.length)).toBe(sha256Hex(image));
    const deviceId = await device.deviceId();
    const seen = (await fleet.fleet.listDevices({ classId: 'closed' })).devices.find(
      (d) => d.id === deviceId,
    );
    expect(seen?.deployments[0]).toMatchObject({
      state: DeploymentState.INSTALLED,
      message: `waiting for the maintenance window; it opens at ${opens.toISOString()}`,
    });
    expect(seen?.agentState).toBe('arming');
  });

  it('activates and commits inside the window', async () => {
    // Opens every hour on the hour for an hour: always open.
    const { device } = await rollOut('open', { cron: '0 * * * *', hours: 1 });
    await device.settle();
    expect((await device.journal()).committed.sequence).toBe(2);
    expect(await device.booted()).toBe('B');
  });
});
