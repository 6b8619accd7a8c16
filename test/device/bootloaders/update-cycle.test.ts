// The real agent state machine, in-process, through whole updates on each
// bootloader backend — with the fake tools, and with the real tools on the
// real formats where the machine has them: arm → reboot → the new slot boots
// → health check → commit, and the two ways back to the old slot.
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { AgentState } from '../../../src/device/agent-state.js';
import { isTrialPending, needsMarkGood } from '../../../src/device/boot-state.js';
import { runHealthChecks } from '../../../src/device/health.js';
import { commandReboot } from '../../../src/device/reboot.js';
import type { SlotName } from '../../../src/device/slots/slot.js';
import {
  factoryImage,
  makeAgentRig,
  rigLog,
  rigRuntime,
  runAgentOnce,
  slotHolds,
} from '../../support/agent-rig.js';
import { imageSelfTest } from '../../support/images.js';
import { hasCommand } from '../../support/storage.js';
import { type BootRig, useBootTestDirs } from './harness.js';
import { efiRig, grubRig, uBootRig } from './rigs.js';

const dirs = useBootTestDirs('bootcycle');

const timeoutMs = 10_000;
// Each backend in each way the tests can reach it; `tools` says whose tools
// go first on PATH, `needs` the real tool that must be installed.
const backends: {
  name: string;
  tools: 'fake' | 'real';
  needs?: string;
  make: (root: string) => Promise<BootRig>;
}[] = [
  { name: 'GRUB (native)', tools: 'real', make: (root) => grubRig(root, { tool: 'native' }) },
  {
    name: 'GRUB (fake grub-editenv)',
    tools: 'fake',
    make: (root) => grubRig(root, { tool: 'grub-editenv', timeoutMs }),
  },
  {
    name: 'GRUB (real grub-editenv)',
    tools: 'real',
    needs: 'grub-editenv',
    make: (root) => grubRig(root, { tool: 'grub-editenv', timeoutMs }),
  },
  { name: 'U-Boot (fake fw_setenv)', tools: 'fake', make: (root) => uBootRig(root, 'fake') },
  {
    name: 'U-Boot (real fw_setenv, env export -c image)',
    tools: 'real',
    needs: 'fw_setenv',
    make: (root) => uBootRig(root, 'image'),
  },
  { name: 'EFI (fake efibootmgr)', tools: 'fake', make: (root) => efiRig(root, 'fake') },
  {
    name: 'EFI (real efibootmgr, efivarfs files)',
    tools: 'real',
    needs: 'efibootmgr',
    make: (root) => efiRig(root, 'efivarfs'),
  },
];

// update powers a factory-fresh device on and runs the agent, powering on
// again whenever it reboots, until it is idle with the offered release
// installed or refused; then one more power cycle. A `broken` slot never
// starts: each power-on that picks it is a crash before the agent runs.
async function update(backend: (typeof backends)[number], healthy: boolean, broken?: SlotName) {
  vi.stubEnv('PATH', (backend.tools === 'fake' ? dirs.fakes : dirs.real).env.PATH);
  const rig = await backend.make(dirs.root);
  const agent = await makeAgentRig(await mkdtemp(join(dirs.root, 'device-')), healthy);
  const powerOn = async () => {
    for (let boots = 0; boots < 10; boots++) if ((await rig.powerOn()) !== broken) return;
    throw new Error('the firmware never booted a working slot');
  };
  const runAgent = async () =>
    runAgentOnce(
      await rigRuntime(agent, {
        bootloader: rig.bootloader,
        checkHealth: (env, deadlineAt, signal) =>
          runHealthChecks([{ ...imageSelfTest, timeoutMs }], { deadlineAt, env, signal }),
        reboot: commandReboot(['true'], timeoutMs, rigLog),
        signal: new AbortController().signal,
      }),
    );
  await powerOn();
  for (let runs = 0; ; runs++) {
    expect(runs, 'the agent must settle').toBeLessThan(10);
    const result = await runAgent();
    if (result === 'idle') break;
    expect(result).toBe('reboot');
    await powerOn();
  }
  // The device stays where the update left it.
  await powerOn();
  expect(await runAgent()).toBe('idle');
  const journal = (await agent.journal.load()) as AgentState;
  const last = agent.source.reports.at(-1);
  return { rig, agent, journal, last, states: agent.source.reports.map((r) => r.state) };
}

describe.each(backends)('update cycle on $name', (backend) => {
  const available = backend.needs === undefined || hasCommand(backend.needs);

  it.skipIf(!available)('commits a healthy release and keeps booting it', async () => {
    const { rig, agent, journal, last, states } = await update(backend, true);
    expect(await rig.bootloader.booted()).toBe('B');
    expect(journal.committed).toEqual({ slot: 'B', version: '2.0.0', sequence: 2 });
    expect(journal.machine.name).toBe('idle');
    expect(last?.state).toBe('committed');
    expect(states).toEqual(expect.arrayContaining(['armed', 'rebooting', 'verifying']));
    const state = await rig.bootloader.state();
    expect(needsMarkGood(state, 'B')).toBe(false);
    expect(state.slots.A.ok).toBe(true);
    expect(await slotHolds(agent, 'B', agent.image)).toBe(true);
  });

  it.skipIf(!available)(
    'boots the old slot when the new release fails its health check',
    async () => {
      const { rig, agent, journal, last } = await update(backend, false);
      expect(await rig.bootloader.booted()).toBe('A');
      expect(journal.committed).toEqual({ slot: 'A', version: '1.0.0', sequence: 1 });
      expect(last).toMatchObject({ state: 'rolled_back', errorCode: 'HEALTH_CHECK_FAILED' });
      const state = await rig.bootloader.state();
      expect(state.slots.B.ok).toBe(false);
      expect(isTrialPending(state, 'B')).toBe(false);
      expect(await slotHolds(agent, 'A', factoryImage)).toBe(true);
    },
  );

  it.skipIf(!available)('boots the old slot when the new slot never starts', async () => {
    const { rig, journal, last } = await update(backend, true, 'B');
    expect(await rig.bootloader.booted()).toBe('A');
    expect(journal.committed).toEqual({ slot: 'A', version: '1.0.0', sequence: 1 });
    expect(last).toMatchObject({ state: 'rolled_back', errorCode: 'TRIAL_BOOT_FAILED' });
    expect((await rig.bootloader.state()).slots.B.ok).toBe(false);
  });
});
