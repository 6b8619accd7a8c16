// The x86_64 hardware-in-the-loop scenarios: OVMF, GRUB choosing the slot
// from its environment block, the cloud kernel, and the real agent in the
// guest talking to a real server on the host.
import { describe, expect } from 'vitest';
import {
  bootloaderSlot,
  bootTimeoutMs,
  bootView,
  powerOnUntilSettled,
  publishImage,
  updateCommitsAndStays,
} from './support/flows.js';
import { factoryMaxTries } from './support/guest.js';
import { type ScenarioContext, scenario, useArtifacts } from './support/scenario.js';

const arch = 'x86_64';
const minutes = (n: number) => n * 60_000;

// finalOutcomeIsConsistent: after any power cut, the device ends either
// committed on the new slot, or on the old slot with the failure reported
// and the new slot unbootable.
async function finalOutcomeIsConsistent(context: ScenarioContext): Promise<string> {
  const last = await powerOnUntilSettled(context, factoryMaxTries + 2);
  const deployment = await context.deployment();
  const view = bootView(arch, await context.guest.bootEnv());
  if (deployment?.state === 'committed') {
    expect(last.slot).toBe('B');
    expect(view.order).toBe('B A');
    expect(view.B.bootable).toBe(true);
  } else {
    expect(deployment?.state).toBe('rolled_back');
    expect(deployment?.errorCode).not.toBe('');
    expect(last.slot).toBe('A');
    expect(view.order).toBe('A B');
    expect(view.B.bootable).toBe(false);
  }
  return deployment?.state ?? '';
}

describe.sequential('x86_64 guest: OVMF + GRUB', () => {
  const built = useArtifacts(arch);

  scenario(
    'update, reboot, health OK, committed; a further reboot stays on the new slot',
    built,
    (context) => updateCommitsAndStays(context, built()),
    minutes(10),
  );

  scenario(
    'failing health check on the new slot: the old slot boots again and reports it rolled back (HEALTH_CHECK_FAILED)',
    built,
    async (context) => {
      await publishImage(context, built(), 'unhealthy', 2);
      const first = await context.guest.powerOn({ timeoutMs: bootTimeoutMs });
      expect(first.slot).toBe('A');
      const trial = await context.guest.powerOn({ timeoutMs: bootTimeoutMs });
      expect(trial.slot).toBe('B');
      expect(trial.lines.some((l) => l.includes('"to":"rolling_back"'))).toBe(true);
      const back = await powerOnUntilSettled(context, 1);
      expect(back.slot).toBe('A');
      const deployment = await context.deployment();
      expect(deployment?.state).toBe('rolled_back');
      expect(deployment?.errorCode).toBe('HEALTH_CHECK_FAILED');
      const view = bootView(arch, await context.guest.bootEnv());
      expect(view.order).toBe('A B');
      expect(view.B.bootable).toBe(false);
    },
    minutes(10),
  );

  scenario(
    'new slot cannot boot at all: GRUB falls back after its tries and the old slot reports it rolled back (TRIAL_BOOT_FAILED)',
    built,
    async (context) => {
      await publishImage(context, built(), 'unbootable', 2);
      const first = await context.guest.powerOn({ timeoutMs: bootTimeoutMs });
      expect(first.slot).toBe('A');
      const last = await powerOnUntilSettled(context, factoryMaxTries + 1);
      const boots = context.guest.boots.slice(1);
      // Every try of B died before init; then GRUB chose A.
      expect(boots.slice(0, factoryMaxTries).map(bootloaderSlot)).toEqual(
        Array(factoryMaxTries).fill('B'),
      );
      expect(boots.slice(0, factoryMaxTries).map((b) => b.slot)).toEqual(
        Array(factoryMaxTries).fill(undefined),
      );
      expect(boots).toHaveLength(factoryMaxTries + 1);
      expect(last.slot).toBe('A');
      const deployment = await context.deployment();
      expect(deployment?.state).toBe('rolled_back');
      expect(deployment?.errorCode).toBe('TRIAL_BOOT_FAILED');
      expect(bootView(arch, await context.guest.bootEnv()).B.bootable).toBe(false);
    },
    minutes(10),
  );

  scenario(
    'power cut during the payload write: the old slot boots, the download resumes and the update commits',
    built,
    async (context) => {
      await publishImage(context, built(), 'update', 2);
      const cut = await context.guest.powerOn({
        timeoutMs: bootTimeoutMs,
        cutWhenAsync: async () => ((await context.deployment())?.bytesDone ?? 0) >= 24 << 20,
      });
      expect(cut.ended).toBe('power-cut');
      const written = (await context.deployment())?.bytesDone ?? 0;
      expect(written).toBeLessThan((await context.deployment())?.bytesTotal ?? 0);
      const view = bootView(arch, await context.guest.bootEnv());
      expect(view.order).toBe('A B');
      expect(view.B.bootable).toBe(false);

      const resumed = await context.guest.powerOn({ timeoutMs: bootTimeoutMs });
      expect(resumed.slot).toBe('A');
      const resumedAt = resumed.lines
        .map((l) => /resuming the download at byte (\d+)/.exec(l))
        .find((m) => m !== null);
      expect(Number(resumedAt?.[1])).toBeGreaterThan(0);
      const last = await powerOnUntilSettled(context, 1);
      expect(last.slot).toBe('B');
      expect((await context.deployment())?.state).toBe('committed');
    },
    minutes(10),
  );

  scenario(
    'power cut right after arming the bootloader: committed, or the old slot with the failure reported',
    built,
    async (context) => {
      await publishImage(context, built(), 'update', 2);
      const cut = await context.guest.powerOn({
        timeoutMs: bootTimeoutMs,
        cutWhen: (line) => line.includes('"event":"armed"'),
      });
      expect(cut.ended).toBe('power-cut');
      expect(await finalOutcomeIsConsistent(context)).toMatch(/^(committed|failed)$/);
    },
    minutes(12),
  );

  scenario(
    'power cut during the trial boot: committed, or the old slot with the failure reported',
    built,
    async (context) => {
      await publishImage(context, built(), 'update', 2);
      const first = await context.guest.powerOn({ timeoutMs: bootTimeoutMs });
      expect(first.slot).toBe('A');
      const cut = await context.guest.powerOn({
        timeoutMs: bootTimeoutMs,
        cutWhen: (line) => line.includes('"to":"verifying"'),
      });
      expect(cut.slot).toBe('B');
      expect(cut.ended).toBe('power-cut');
      expect(await finalOutcomeIsConsistent(context)).toMatch(/^(committed|failed)$/);
    },
    minutes(12),
  );
});
