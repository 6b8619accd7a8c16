// The anti-rollback floor with the real agent process and a real server: it
// is created on the first start, survives a wiped journal, and a lost floor
// store stops every update until an operator restores it with
// `pendulum agent floor set`.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRollbackFloor } from '../../src/device/rollback-floor.js';
import { runOk } from '../cli/cli.js';
import { makeDevice, slotBytes, type TestDevice } from '../support/device.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { makeImage } from '../support/images.js';
import { deploymentHistory } from '../support/server-events.js';
import { makeTempDir } from '../support/temp-dir.js';

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;

beforeAll(async () => {
  dir = await makeTempDir('floor');
  fleet = await startFleet(dir.path);
});
afterAll(async () => {
  await fleet.close();
  await dir.remove();
});

const floorFile = (device: TestDevice) => join(device.dir, 'state', 'rollback-floor');

// What a refused offer must leave alone: the bootloader and both slots.
async function snapshot(device: TestDevice) {
  return {
    env: await device.envBytes(),
    slotA: await device.slotDigest('A', slotBytes),
    slotB: await device.slotDigest('B', slotBytes),
  };
}

// deliver hands the device a validly signed release as a deployment of its own.
async function deliver(
  device: TestDevice,
  version: string,
  sequence: number,
  irreversible = false,
) {
  const image = makeImage(version);
  return fleet.inject(
    fleet.sign(image, { version, sequence, irreversible }),
    image,
    await device.deviceId(),
  );
}

async function deployment(device: TestDevice, id: string) {
  const history = await deploymentHistory(fleet, await device.deviceId());
  return history.find((d) => d.id === id);
}

describe('anti-rollback floor on a running device', () => {
  it('refuses an older validly signed release after an irreversible one committed, even with its journal wiped', async () => {
    const device = await makeDevice(join(dir.path, 'wiped'), fleet);
    await device.settle();
    // The first start set the floor at the factory release.
    expect(await readFile(floorFile(device), 'utf8')).toBe(formatRollbackFloor(1));

    const irreversible = await deliver(device, '5.0.0', 5, true);
    await device.settle();
    expect((await deployment(device, irreversible))?.state).toBe('committed');
    expect(await readFile(floorFile(device), 'utf8')).toBe(formatRollbackFloor(5));

    // A reset of the agent's state: its journal, and the committed sequence in it, are gone.
    await rm(device.journalPath);
    await device.settle();
    expect((await device.journal()).committed.sequence).toBe(1);
    expect(await readFile(floorFile(device), 'utf8')).toBe(formatRollbackFloor(5));
    const before = await snapshot(device);

    const older = await deliver(device, '3.0.0', 3);
    const run = await device.runAgent();
    expect(run.code, run.stderr).toBe(0);
    expect(run.result).toBe('idle');

    const refused = await deployment(device, older);
    expect(refused?.state).toBe('failed');
    expect(refused?.errorCode).toBe('ROLLBACK_REJECTED');
    expect(refused?.message).toContain("sequence 3 is below the device's anti-rollback floor 5");
    expect(refused?.events).not.toContain('downloading');
    expect(await snapshot(device)).toEqual(before);
    expect(await device.booted()).toBe('B');
  });

  it('refuses every offer while its floor store is missing, until `agent floor set` restores it', async () => {
    const device = await makeDevice(join(dir.path, 'lost'), fleet);
    await device.settle();
    await rm(floorFile(device));
    const before = await snapshot(device);

    const first = await deliver(device, '2.0.0', 2);
    const run = await device.runAgent();
    // The agent runs and checks in, so the fleet sees the device and why it refuses.
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`anti-rollback floor store ${floorFile(device)} is missing`);
    const refused = await deployment(device, first);
    expect(refused?.state).toBe('failed');
    expect(refused?.errorCode).toBe('STATE_CORRUPT');
    expect(refused?.message).toContain('pendulum agent floor set');
    expect(refused?.events).not.toContain('downloading');
    expect(await snapshot(device)).toEqual(before);
    expect((await device.journal()).machine.name).toBe('idle');

    expect(await runOk(['agent', 'floor', 'set', '1', '--config', device.configPath])).toContain(
      'anti-rollback floor restored to 1',
    );
    const second = await deliver(device, '2.0.1', 2);
    await device.settle();
    expect((await deployment(device, second))?.state).toBe('committed');
    expect((await device.journal()).committed).toEqual({
      slot: 'B',
      version: '2.0.1',
      sequence: 2,
    });
  });
});
