// The aarch64 hardware-in-the-loop scenario: QEMU's virt machine with
// Debian's U-Boot, a boot script that counts tries in a checksummed
// environment file on the FAT boot partition, and the agent's U-Boot backend
// reading and writing that same file with fw_printenv/fw_setenv in the guest.
import { beforeAll, describe } from 'vitest';
import { type Artifacts, buildArtifacts } from './support/artifacts.js';
import { updateCommitsAndStays } from './support/flows.js';
import { requirePrerequisites } from './support/prerequisites.js';
import { scenario } from './support/scenario.js';

let artifacts: Artifacts | undefined;
const built = () => {
  if (artifacts === undefined) throw new Error('artifacts not built');
  return artifacts;
};

describe.sequential('aarch64 guest: U-Boot', () => {
  beforeAll(async () => {
    requirePrerequisites('aarch64');
    artifacts = await buildArtifacts('aarch64');
  }, 600_000);

  scenario(
    'update, reboot, health OK, committed; a further reboot stays on the new slot',
    built,
    (context) => updateCommitsAndStays(context, built()),
    600_000,
  );
});
