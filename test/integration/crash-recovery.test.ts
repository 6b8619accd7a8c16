// The agent is SIGKILLed at each dangerous moment — and in the "power cut"
// variant the device also reboots right then. After it restarts, the device
// ends with the new slot committed or the old slot running, never with an
// unverified slot armed. One table of cases (after Mender's state tests).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/device/failpoints.js';
import { factoryImage, makeDevice, type TestDevice } from '../support/device.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { makeImage, sha256Hex } from '../support/images.js';
import { deploymentHistory } from '../support/server-events.js';
import { makeTempDir } from '../support/temp-dir.js';

interface Case {
  readonly at: Checkpoint;
  readonly powerCut: boolean;
  readonly maxTries?: number;
  // Where the device must end up, and the deployment's last state on the server.
  readonly ends: {
    readonly slot: 'A' | 'B';
    readonly version: string;
    readonly server: 'committed' | 'failed' | 'rolled_back';
    readonly code?: string;
  };
}

const committed = { slot: 'B', version: '2.0.0', server: 'committed' } as const;

const cases: Case[] = [
  { at: 'download-progress', powerCut: false, ends: committed },
  { at: 'download-progress', powerCut: true, ends: committed },
  { at: 'installed', powerCut: false, ends: committed },
  { at: 'installed', powerCut: true, ends: committed },
  { at: 'armed', powerCut: false, ends: committed },
  { at: 'armed', powerCut: true, ends: committed },
  { at: 'verifying', powerCut: false, ends: committed },
  { at: 'verifying', powerCut: true, ends: committed },
  // With one boot attempt, a power cut during the trial means the bootloader falls back.
  {
    at: 'verifying',
    powerCut: true,
    maxTries: 1,
    ends: { slot: 'A', version: '1.0.0', server: 'rolled_back', code: 'TRIAL_BOOT_FAILED' },
  },
];

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;
let sequence = 1;

beforeAll(async () => {
  dir = await makeTempDir('crash');
  fleet = await startFleet(dir.path);
});
afterAll(async () => {
  await fleet.close();
  await dir.remove();
});

const newImage = makeImage('2.0.0');

// The invariant: every slot the bootloader may boot holds a verified image.
async function expectNothingUnverifiedArmed(device: TestDevice): Promise<void> {
  const boot = await device.bootState();
  if (boot.slots.A.ok)
    expect(await device.slotDigest('A', factoryImage.length)).toBe(sha256Hex(factoryImage));
  if (boot.slots.B.ok)
    expect(await device.slotDigest('B', newImage.length)).toBe(sha256Hex(newImage));
}

describe('agent killed at each checkpoint', () => {
  it.each(cases)(
    'killed at $at (power cut: $powerCut, boot attempts: $maxTries) ends on slot $ends.slot',
    async (c) => {
      const classId = `crash-${c.at}-${c.powerCut ? 'power' : 'kill'}-${c.maxTries ?? 3}`;
      const device = await makeDevice(join(dir.path, classId), fleet, {
        classId,
        maxTries: c.maxTries ?? 3,
      });
      await device.settle();
      sequence++;
      await fleet.publish(newImage, {
        version: '2.0.0',
        sequence,
        classId,
        bootAttempts: c.maxTries ?? 3,
      });

      // Reach the checkpoint: the trial boot comes after one reboot.
      if (c.at === 'verifying') {
        expect((await device.runAgent()).result).toBe('reboot');
        expect(await device.boot()).toBe('B');
      }
      const killed = await device.runAgent({ failpoints: [c.at] });
      expect(killed.signal).toBe('SIGKILL');
      await expectNothingUnverifiedArmed(device);
      if (c.powerCut) await device.boot();
      await expectNothingUnverifiedArmed(device);

      // Restart and let it finish, checking the invariant at every step.
      for (let runs = 0; ; runs++) {
        expect(runs).toBeLessThan(10);
        const run = await device.runAgent();
        expect(run.code, run.stderr).toBe(0);
        await expectNothingUnverifiedArmed(device);
        if (run.result === 'idle') break;
        await device.boot();
        await expectNothingUnverifiedArmed(device);
      }

      expect(await device.booted()).toBe(c.ends.slot);
      const journal = await device.journal();
      expect(journal.machine.name).toBe('idle');
      expect(journal.committed.version).toBe(c.ends.version);
      const boot = await device.bootState();
      expect(boot.order[0]).toBe(c.ends.slot);
      expect(boot.slots[c.ends.slot].ok).toBe(true);
      if (c.ends.slot === 'A') expect(boot.slots.B.ok).toBe(false);
      const [deployment] = await deploymentHistory(fleet, await device.deviceId());
      expect(deployment?.state).toBe(c.ends.server);
      if (c.ends.code !== undefined) expect(deployment?.errorCode).toBe(c.ends.code);
      // A rebooted device still boots what it ended on.
      expect(await device.boot()).toBe(c.ends.slot);
    },
  );
});
