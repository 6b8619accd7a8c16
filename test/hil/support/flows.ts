// The steps HIL scenarios share: publish one of the built images, power the
// device on until the server has a final answer, and read the bootloader's
// variables the same way on GRUB and on U-Boot.
import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import type { Arch } from './arch.js';
import { type Artifacts, type ImageKind, imageVersions } from './artifacts.js';
import type { BootOutcome, PowerOptions } from './qemu.js';
import type { ScenarioContext } from './scenario.js';

// The longest one boot may take: firmware, kernel, node, a full download
// under TCG, and the health check.
export const bootTimeoutMs = 300_000;

// publishImage signs, uploads and rolls out one of the built slot images.
export async function publishImage(
  { fleet }: ScenarioContext,
  artifacts: Artifacts,
  kind: ImageKind,
  sequence: number,
): Promise<void> {
  await fleet.publish(await readFile(artifacts.images[kind]), {
    version: imageVersions[kind],
    sequence,
  });
}

export const finalStates = ['committed', 'failed', 'rolled_back'];

// powerOnUntilSettled keeps powering the device on, as a person would after
// each reboot or power cut, until the server records a final state; the
// boot that reports it is cut off once it has.
export async function powerOnUntilSettled(
  context: ScenarioContext,
  maxBoots: number,
  options: Partial<PowerOptions> = {},
): Promise<BootOutcome> {
  for (let boot = 1; boot <= maxBoots; boot++) {
    const outcome = await context.guest.powerOn({
      timeoutMs: bootTimeoutMs,
      cutWhenAsync: async () => finalStates.includes((await context.deployment())?.state ?? ''),
      ...options,
    });
    if (finalStates.includes((await context.deployment())?.state ?? '')) return outcome;
  }
  throw new Error(`no final deployment state after ${maxBoots} boots`);
}

// The line a guest's agent prints once the running slot's boot count is reset.
export const slotConfirmed = (line: string) => line.includes('is good; reset its boot count');

export interface SlotView {
  // The bootloader would still pick this slot.
  readonly bootable: boolean;
  // Boots used since the slot was armed or last confirmed.
  readonly triesUsed: number;
}

export interface BootView {
  readonly order: string;
  readonly A: SlotView;
  readonly B: SlotView;
}

// bootView reads GRUB's (ORDER, <s>_OK, <s>_TRY, MAX_TRY) or U-Boot's
// (BOOT_ORDER, BOOT_<s>_LEFT, BOOT_MAX_TRY) variables into one shape.
export function bootView(arch: Arch, env: Map<string, string>): BootView {
  const number = (name: string) => {
    const value = env.get(name);
    expect(value, `${name} in the boot environment`).toMatch(/^\d+$/);
    return Number(value);
  };
  if (arch === 'x86_64') {
    const max = number('MAX_TRY');
    const slot = (s: 'A' | 'B') => ({
      bootable: env.get(`${s}_OK`) === '1' && number(`${s}_TRY`) < max,
      triesUsed: number(`${s}_TRY`),
    });
    return { order: env.get('ORDER') ?? '', A: slot('A'), B: slot('B') };
  }
  const max = number('BOOT_MAX_TRY');
  const slot = (s: 'A' | 'B') => ({
    bootable: number(`BOOT_${s}_LEFT`) > 0,
    triesUsed: max - number(`BOOT_${s}_LEFT`),
  });
  return { order: env.get('BOOT_ORDER') ?? '', A: slot('A'), B: slot('B') };
}

// The slot the firmware chose, from the boot script's own message; set even
// when the kernel never reached init.
export function bootloaderSlot(outcome: BootOutcome): string | undefined {
  for (const line of outcome.lines) {
    const match = /pendulum: (?:booting|trying) slot ([AB])/.exec(line);
    if (match !== null) return match[1];
  }
  return undefined;
}

// updateCommitsAndStays: update, reboot, health OK, committed; a further
// reboot stays on the new slot with its boot count reset.
export async function updateCommitsAndStays(
  context: ScenarioContext,
  artifacts: Artifacts,
): Promise<void> {
  const { guest } = context;
  await publishImage(context, artifacts, 'update', 2);
  const first = await guest.powerOn({ timeoutMs: bootTimeoutMs });
  expect(first.slot).toBe('A');
  // The kernel's CRNG is fed by virtio-rng; without it node can block in getrandom().
  expect(first.lines).toContain('PENDULUM-HIL rng=virtio_rng.0');
  expect(first.lines.some((l) => l.includes('"msg":"rebooting"'))).toBe(true);
  expect(bootView(artifacts.arch, await guest.bootEnv()).order).toBe('B A');

  const trial = await powerOnUntilSettled(context, 1);
  expect(trial.slot).toBe('B');
  expect(trial.version).toBe(imageVersions.update);
  expect((await context.deployment())?.state).toBe('committed');

  const again = await guest.powerOn({ timeoutMs: bootTimeoutMs, cutWhen: slotConfirmed });
  expect(again.slot).toBe('B');
  const view = bootView(artifacts.arch, await guest.bootEnv());
  expect(view.order).toBe('B A');
  expect(view.B).toEqual({ bootable: true, triesUsed: 0 });
}
