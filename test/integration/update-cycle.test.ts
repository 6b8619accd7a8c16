// A device goes from its factory release to a new one and commits it, on
// plain-file slots and on loop devices.
import { writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentState, Slot } from '../../src/gen/pendulum/v1/device_pb.js';
import { makeDevice, slotBytes } from '../support/device.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { makeImage, sha256Hex } from '../support/images.js';
import { attachLoop, canUseLoopDevices, detachLoop } from '../support/storage.js';
import { makeTempDir } from '../support/temp-dir.js';

describe('full update cycle', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: Fleet;
  const loops: string[] = [];

  beforeAll(async () => {
    dir = await makeTempDir('cycle');
    fleet = await startFleet(dir.path);
  });
  afterAll(async () => {
    await fleet.close();
    for (const loop of loops) detachLoop(loop);
    await dir.remove();
  });

  const updateAndCommit = async (
    name: string,
    sequence: number,
    slots?: { A: string; B: string },
  ) => {
    const classId = `gateway-${name}`;
    const device = await makeDevice(join(dir.path, name), fleet, {
      classId,
      ...(slots === undefined ? {} : { slots }),
    });
    await device.settle();
    const deviceId = await device.deviceId();
    const image = makeImage(`1.1.0-${name}`);
    await fleet.publish(image, { version: `1.1.0-${name}`, sequence, classId });

    await device.settle();

    const journal = await device.journal();
    expect(journal.committed).toEqual({ slot: 'B', version: `1.1.0-${name}`, sequence });
    expect(journal.machine.name).toBe('idle');
    expect(await device.booted()).toBe('B');
    const boot = await device.bootState();
    expect(boot.order[0]).toBe('B');
    expect(boot.slots.B).toEqual({ ok: true, tries: 0 });
    expect(await device.slotDigest('B', image.length)).toBe(sha256Hex(image));
    // Streamed straight into the slot: the agent's state directory never held a copy.
    expect((await readdir(join(device.dir, 'state'))).sort()).toEqual([
      'device.key',
      'journal.json',
      'rollback-floor',
    ]);

    const { devices } = await fleet.fleet.listDevices({ classId });
    const seen = devices.find((d) => d.id === deviceId);
    expect(seen?.deployments[0]?.state).toBe(DeploymentState.COMMITTED);
    // The device's next check-in tells the server where it now runs.
    await device.runAgent();
    const after = (await fleet.fleet.listDevices({ classId })).devices.find(
      (d) => d.id === deviceId,
    );
    expect(after?.installedVersion).toBe(`1.1.0-${name}`);
    expect(after?.bootedSlot).toBe(Slot.B);
  };

  it('commits a new release on a device whose slots are plain files', async () => {
    await updateAndCommit('files', 2);
  });

  it.skipIf(!canUseLoopDevices)(
    'commits a new release on a device whose slots are loop devices',
    async () => {
      const attach = (name: string) => {
        const file = join(dir.path, `${name}.backing`);
        writeFileSync(file, Buffer.alloc(slotBytes));
        const loop = attachLoop(file);
        loops.push(loop);
        return loop;
      };
      await updateAndCommit('loops', 2, { A: attach('a'), B: attach('b') });
    },
  );
});
