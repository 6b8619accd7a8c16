// Every state of the agent's machine × {error, hang, power cut}: the agent
// runs in-process on real slot files, the real simulated bootloader, journal,
// health checks and reboot command, with a fake update source; one adapter
// call misbehaves once. The table gives where the device must end and what
// the server must have been told (after Mender's state-machine tests).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentState } from '../../src/device/agent-state.js';
import {
  createSimulatedBootloader,
  initSimulatedBootloader,
  simulateBoot,
} from '../../src/device/bootloaders/simulated.js';
import { runHealthChecks } from '../../src/device/health.js';
import { commandReboot } from '../../src/device/reboot.js';
import { createRawSlot } from '../../src/device/slots/raw.js';
import type { MachineStateName } from '../../src/device/state-machine.js';
import { type ErrorCode, PendulumError } from '../../src/errors.js';
import { isFinalDeploymentState } from '../../src/wire/enums.js';
import type { FakeSource } from '../fakes/fake-source.js';
import { type FaultKind, type FaultSwitch, withFault, withStreamFault } from '../fakes/faults.js';
import {
  factoryImage,
  makeAgentRig,
  rigLog,
  rigRuntime,
  runAgentOnce,
  slotHolds,
} from '../support/agent-rig.js';
import { imageSelfTest } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';

type Target =
  | 'download'
  | 'openWriter'
  | 'digest'
  | 'tryOnce'
  | 'markGood'
  | 'markBad'
  | 'bootState'
  | 'reboot'
  | 'checkHealth'
  | 'none';

interface Case {
  readonly state: MachineStateName;
  readonly kind: FaultKind;
  readonly target: Target;
  readonly error?: ErrorCode;
  readonly healthy?: boolean;
  // Overrides for the "hang" cases that a real tool's timeout ends.
  readonly rebootCommand?: (dir: string) => string[];
  readonly healthCommand?: string[];
  // failed: the release never ran; rolledBack: it failed its trial and the old slot runs again.
  readonly ends: 'committed' | { failed: ErrorCode } | { rolledBack: ErrorCode };
}

const hangOnceThenReboot = (dir: string) => [
  'sh',
  '-c',
  `if [ -e ${dir}/hung ]; then exit 0; fi; touch ${dir}/hung; exec sleep 30`,
];

const cases: Case[] = [
  {
    state: 'downloading',
    kind: 'error',
    target: 'download',
    error: 'UNAVAILABLE',
    ends: 'committed',
  },
  {
    state: 'downloading',
    kind: 'error',
    target: 'openWriter',
    error: 'SLOT_WRITE_FAILED',
    ends: { failed: 'SLOT_WRITE_FAILED' },
  },
  { state: 'downloading', kind: 'hang', target: 'download', ends: 'committed' },
  { state: 'downloading', kind: 'power-cut', target: 'download', ends: 'committed' },
  {
    state: 'installing',
    kind: 'error',
    target: 'digest',
    error: 'SLOT_WRITE_FAILED',
    ends: { failed: 'SLOT_WRITE_FAILED' },
  },
  { state: 'installing', kind: 'power-cut', target: 'digest', ends: 'committed' },
  {
    state: 'arming',
    kind: 'error',
    target: 'tryOnce',
    error: 'BOOTLOADER_FAILED',
    ends: { failed: 'BOOTLOADER_FAILED' },
  },
  { state: 'arming', kind: 'power-cut', target: 'tryOnce', ends: 'committed' },
  {
    state: 'rebooting',
    kind: 'error',
    target: 'reboot',
    error: 'REBOOT_FAILED',
    ends: 'committed',
  },
  {
    state: 'rebooting',
    kind: 'hang',
    target: 'none',
    rebootCommand: hangOnceThenReboot,
    ends: 'committed',
  },
  { state: 'rebooting', kind: 'power-cut', target: 'reboot', ends: 'committed' },
  {
    state: 'verifying',
    kind: 'error',
    target: 'none',
    healthy: false,
    ends: { rolledBack: 'HEALTH_CHECK_FAILED' },
  },
  {
    state: 'verifying',
    kind: 'hang',
    target: 'none',
    healthCommand: ['sleep', '30'],
    ends: { rolledBack: 'HEALTH_CHECK_FAILED' },
  },
  { state: 'verifying', kind: 'power-cut', target: 'checkHealth', ends: 'committed' },
  {
    state: 'committing',
    kind: 'error',
    target: 'markGood',
    error: 'BOOTLOADER_FAILED',
    ends: 'committed',
  },
  { state: 'committing', kind: 'power-cut', target: 'markGood', ends: 'committed' },
  {
    state: 'rolling_back',
    kind: 'error',
    target: 'markBad',
    error: 'BOOTLOADER_FAILED',
    healthy: false,
    ends: { rolledBack: 'HEALTH_CHECK_FAILED' },
  },
  {
    state: 'rolling_back',
    kind: 'power-cut',
    target: 'markBad',
    healthy: false,
    ends: { rolledBack: 'HEALTH_CHECK_FAILED' },
  },
  {
    state: 'failing',
    kind: 'error',
    target: 'bootState',
    error: 'BOOTLOADER_FAILED',
    healthy: false,
    ends: { rolledBack: 'HEALTH_CHECK_FAILED' },
  },
  {
    state: 'failing',
    kind: 'power-cut',
    target: 'bootState',
    healthy: false,
    ends: { rolledBack: 'HEALTH_CHECK_FAILED' },
  },
];

let tmp: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  tmp = await makeTempDir('faults');
});
afterAll(async () => {
  await tmp.remove();
});

// A device: slot files, a simulated bootloader, a journal, and a release it is offered.
async function makeRig(name: string, healthy: boolean) {
  const rig = await makeAgentRig(join(tmp.path, name), healthy);
  const boot = { envPath: join(rig.dir, 'grubenv'), cmdlinePath: join(rig.dir, 'cmdline') };
  await initSimulatedBootloader({ ...boot, booted: 'A', maxTries: 3 });
  return { ...rig, boot };
}

type Rig = Awaited<ReturnType<typeof makeRig>>;

// runOnce builds a runtime with the fault wired in and runs the agent until it stops.
async function runOnce(rig: Rig, c: Case, fault: FaultSwitch) {
  const controller = new AbortController();
  fault.powerCut = () => controller.abort();
  let slotB = createRawSlot({ name: 'B', device: rig.slots.B });
  let bootloader = createSimulatedBootloader(rig.boot);
  let source: FakeSource = rig.source;
  const checks = {
    checkHealth: (env: Record<string, string>, deadlineAt: number, signal: AbortSignal) =>
      runHealthChecks(
        [
          {
            ...imageSelfTest,
            timeoutMs: 300,
            ...(c.healthCommand ? { command: c.healthCommand } : {}),
          },
        ],
        { deadlineAt, env, signal },
      ),
  };
  const reboots = {
    reboot: commandReboot(c.rebootCommand?.(rig.dir) ?? ['true'], 300, rigLog),
  };
  const wrapped = { slotB, bootloader, source, checks, reboots };
  const signal = controller.signal;
  if (c.target === 'download') wrapped.source = withStreamFault(source, 'download', fault, 4);
  if (c.target === 'openWriter' || c.target === 'digest')
    wrapped.slotB = withFault(slotB, c.target, fault, signal);
  if (c.target === 'tryOnce' || c.target === 'markGood' || c.target === 'markBad')
    wrapped.bootloader = withFault(bootloader, c.target, fault, signal);
  if (c.target === 'bootState') wrapped.bootloader = withFault(bootloader, 'state', fault, signal);
  if (c.target === 'checkHealth') wrapped.checks = withFault(checks, 'checkHealth', fault, signal);
  if (c.target === 'reboot') wrapped.reboots = withFault(reboots, 'reboot', fault, signal);
  ({ slotB, bootloader, source } = wrapped);
  const rt = await rigRuntime(rig, {
    bootloader,
    slotB,
    source,
    checkHealth: wrapped.checks.checkHealth,
    reboot: wrapped.reboots.reboot,
    signal,
  });
  (fault as { armed: () => boolean }).armed = () => rt.state.machine.name === c.state;
  return runAgentOnce(rt);
}

// Every slot the bootloader may boot holds a verified image.
async function expectNothingUnverifiedArmed(rig: Rig): Promise<void> {
  const state = await createSimulatedBootloader(rig.boot).state();
  if (state.slots.A.ok) expect(await slotHolds(rig, 'A', factoryImage)).toBe(true);
  if (state.slots.B.ok) expect(await slotHolds(rig, 'B', rig.image)).toBe(true);
}

describe('fault table', () => {
  it.each(cases)('$kind in $state ($target) ends $ends', async (c) => {
    const rig = await makeRig(`${c.state}-${c.kind}-${c.target}`, c.healthy ?? true);
    const fault: FaultSwitch = {
      armed: () => false,
      plan: {
        kind: c.kind,
        ...(c.error ? { error: new PendulumError(c.error, `injected ${c.error}`) } : {}),
      },
      fired: c.target === 'none',
      powerCut: () => undefined,
    };
    for (let runs = 0; ; runs++) {
      expect(runs, 'the agent must settle').toBeLessThan(15);
      const result = await runOnce(rig, c, fault);
      await expectNothingUnverifiedArmed(rig);
      if (result === 'idle') break;
      // A reboot the agent asked for, or a power cut: the bootloader picks a slot.
      if (result === 'reboot' || result === 'stopped') await simulateBoot(rig.boot);
      await expectNothingUnverifiedArmed(rig);
    }
    expect(fault.fired, 'the fault was injected').toBe(true);

    const journal = (await rig.journal.load()) as AgentState;
    const bootloader = createSimulatedBootloader(rig.boot);
    const states = rig.source.reports.map((r) => r.state);
    const last = rig.source.reports.at(-1);
    expect(journal.machine.name).toBe('idle');
    if (c.ends === 'committed') {
      expect(await bootloader.booted()).toBe('B');
      expect(journal.committed).toEqual({ slot: 'B', version: '2.0.0', sequence: 2 });
      expect(last?.state).toBe('committed');
      expect(
        inOrder(states, [
          'downloading',
          'installed',
          'armed',
          'rebooting',
          'verifying',
          'committed',
        ]),
      ).toBe(true);
      if (c.state === 'downloading')
        expect(Math.max(...rig.source.downloadOffsets)).toBeGreaterThan(0);
    } else {
      expect(await bootloader.booted()).toBe('A');
      expect(journal.committed).toEqual({ slot: 'A', version: '1.0.0', sequence: 1 });
      expect(journal.slots.B.status).toBe('invalid');
      expect((await bootloader.state()).slots.B.ok).toBe(false);
      expect(last).toMatchObject(
        'failed' in c.ends
          ? { state: 'failed', errorCode: c.ends.failed }
          : { state: 'rolled_back', errorCode: c.ends.rolledBack },
      );
      expect(states).not.toContain('committed');
    }
    expect(states.filter((s) => isFinalDeploymentState(s))).toHaveLength(1);
    // Report sequences never go back, and one number is never used for two
    // different reports (a power cut may deliver the same report twice).
    const reports = rig.source.reports;
    for (const [i, report] of reports.entries()) {
      const before = reports[i - 1];
      if (before === undefined) continue;
      expect(report.sequence).toBeGreaterThanOrEqual(before.sequence);
      if (report.sequence === before.sequence) expect(report).toEqual(before);
    }
  });
});

// inOrder: `expected` appears in `states` as a subsequence.
function inOrder(states: readonly string[], expected: readonly string[]): boolean {
  let at = 0;
  for (const state of states) if (state === expected[at]) at++;
  return at === expected.length;
}
