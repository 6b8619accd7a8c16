// A release whose health check fails on the trial boot is rolled back, and
// the server says so with the reason.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevice } from '../support/device.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { makeImage } from '../support/images.js';
import { deploymentHistory } from '../support/server-events.js';
import { makeTempDir } from '../support/temp-dir.js';

describe('health-check failure', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: Fleet;

  beforeAll(async () => {
    dir = await makeTempDir('rollback');
    fleet = await startFleet(dir.path);
  });
  afterAll(async () => {
    await fleet.close();
    await dir.remove();
  });

  it('boots the old slot again and the server shows the deployment failed with the reason', async () => {
    const device = await makeDevice(join(dir.path, 'device'), fleet);
    await device.settle();
    await fleet.publish(makeImage('1.1.0', { healthy: false }), { version: '1.1.0', sequence: 2 });

    await device.settle();

    expect(await device.booted()).toBe('A');
    const journal = await device.journal();
    expect(journal.committed).toEqual({ slot: 'A', version: '1.0.0', sequence: 1 });
    expect(journal.machine.name).toBe('idle');
    expect(journal.slots.B.status).toBe('invalid');
    const boot = await device.bootState();
    expect(boot.order[0]).toBe('A');
    expect(boot.slots.B.ok).toBe(false);

    const [deployment] = await deploymentHistory(fleet, await device.deviceId());
    expect(deployment?.state).toBe('rolled_back');
    expect(deployment?.errorCode).toBe('HEALTH_CHECK_FAILED');
    expect(deployment?.message).toContain('image self-test');
    expect(deployment?.events).toContain('verifying');
    expect(deployment?.events).toContain('rolling_back');
    expect(deployment?.events.at(-1)).toBe('rolled_back');
  });

  it('does not offer the failed release to the device again', async () => {
    const device = await makeDevice(join(dir.path, 'again'), fleet);
    await device.settle();
    await device.settle();
    const history = await deploymentHistory(fleet, await device.deviceId());
    expect(history.filter((d) => d.version === '1.1.0')).toHaveLength(1);
    const run = await device.runAgent();
    expect(run.result).toBe('idle');
    expect(
      (await deploymentHistory(fleet, await device.deviceId())).filter(
        (d) => d.version === '1.1.0',
      ),
    ).toHaveLength(1);
  });
});
