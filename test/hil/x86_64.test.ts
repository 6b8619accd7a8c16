// The x86_64 hardware-in-the-loop scenarios: OVMF, GRUB choosing the slot
// from its environment block, the cloud kernel, and the real agent in the
// guest talking to a real server on the host.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect } from 'vitest';
import { type Artifacts, buildArtifacts, imageVersions } from './support/artifacts.js';
import { requirePrerequisites } from './support/prerequisites.js';
import { scenario } from './support/scenario.js';

const bootMs = 300_000;
let artifacts: Artifacts | undefined;
const built = () => {
  if (artifacts === undefined) throw new Error('artifacts not built');
  return artifacts;
};

describe.sequential('x86_64 guest: OVMF + GRUB', () => {
  beforeAll(async () => {
    requirePrerequisites('x86_64');
    artifacts = await buildArtifacts('x86_64');
  }, 600_000);

  scenario(
    'update, reboot, health OK, committed; a further reboot stays on the new slot',
    built,
    async ({ fleet, guest, deployment }) => {
      await fleet.publish(await readFile(built().images.update), {
        version: imageVersions.update,
        sequence: 2,
      });
      const first = await guest.powerOn({ timeoutMs: bootMs });
      expect(first.slot).toBe('A');
      expect(first.lines.some((l) => l.includes('"msg":"rebooting"'))).toBe(true);
      expect((await guest.bootEnv()).get('ORDER')).toBe('B A');

      const trial = await guest.powerOn({
        timeoutMs: bootMs,
        cutWhenAsync: async () => (await deployment())?.state === 'committed',
      });
      expect(trial.slot).toBe('B');
      expect(trial.version).toBe(imageVersions.update);
      expect((await deployment())?.state).toBe('committed');

      const again = await guest.powerOn({
        timeoutMs: bootMs,
        cutWhen: (line) => line.includes('is good; reset its boot count'),
      });
      expect(again.slot).toBe('B');
      const env = await guest.bootEnv();
      expect(env.get('ORDER')).toBe('B A');
      expect(env.get('B_TRY')).toBe('0');
    },
    3 * bootMs,
  );
});
