// The aarch64 hardware-in-the-loop scenario: QEMU's virt machine with
// Debian's U-Boot, a boot script that counts tries in a checksummed
// environment file on the FAT boot partition, and the agent's U-Boot backend
// reading and writing that same file with fw_printenv/fw_setenv in the guest.
import { describe, expect } from 'vitest';
import {
  bootTimeoutMs,
  bootView,
  powerOnUntilSettled,
  publishImage,
  updateCommitsAndStays,
} from './support/flows.js';
import { scenario, useArtifacts } from './support/scenario.js';

describe.sequential('aarch64 guest: U-Boot', () => {
  const built = useArtifacts('aarch64');

  scenario(
    'update, reboot, health OK, committed; a further reboot stays on the new slot',
    built,
    (context) => updateCommitsAndStays(context, built()),
    600_000,
  );

  scenario(
    'power cut tearing the arming write of uboot.env: U-Boot boots the old slot from its copy and the agent reports it rolled back',
    built,
    async (context) => {
      const { guest } = context;
      await publishImage(context, built(), 'update', 2);
      const armed = await guest.powerOn({ timeoutMs: bootTimeoutMs });
      expect(armed.slot).toBe('A');
      expect(bootView('aarch64', await guest.bootEnv()).order).toBe('B A');
      await guest.tearBootEnv();

      const last = await powerOnUntilSettled(context, 1);
      expect(last.lines.some((l) => l.includes('bad CRC; using uboot.env.bak'))).toBe(true);
      expect(last.slot).toBe('A');
      const deployment = await context.deployment();
      expect(deployment?.state).toBe('rolled_back');
      expect(deployment?.errorCode).toBe('TRIAL_BOOT_FAILED');
      // The boot script wrote a whole uboot.env again before Linux started.
      const view = bootView('aarch64', await guest.bootEnv());
      expect(view.order).toBe('A B');
      expect(view.B.bootable).toBe(false);
    },
    600_000,
  );
});
