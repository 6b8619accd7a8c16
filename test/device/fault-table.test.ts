// Every state of the agent's machine × {error, hang, power cut}: the agent
// runs in-process on real slot files, the real simulated bootloader, journal,
// health checks and reboot command, with a fake update source; one adapter
// call misbehaves once. The table gives where the device must end and what
// the server must have been told (after Mender's state-machine tests).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../src/device/agent.js';
import { type AgentState, factoryState, parseAgentState } from '../../src/device/agent-state.js';
import {
  createSimulatedBootloader,
  initSimulatedBootloader,
  simulateBoot,
} from '../../src/device/bootloaders/simulated.js';
import { runHealthChecks } from '../../src/device/health.js';
import { createJournal } from '../../src/device/journal.js';
import { commandReboot } from '../../src/device/reboot.js';
import { createRuntime } from '../../src/device/runtime.js';
import { createRawSlot } from '../../src/device/slots/raw.js';
import type { MachineStateName } from '../../src/device/state-machine.js';
import { type ErrorCode, PendulumError } from '../../src/errors.js';
import { generateKeyPair } from '../../src/trust/index.js';
import { createFakeSource, type FakeSource } from '../fakes/fake-source.js';
import { type FaultKind, type FaultSwitch, withFault, withStreamFault } from '../fakes/faults.js';
import { imageSelfTest, makeImage, sha256Hex } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';
import { rootDocument, signImage } from '../support/vendor.js';

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
  readonly ends: 'committed' | { failed: ErrorCode };
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
    ends: { failed: 'HEALTH_CHECK_FAILED' },
  },
  {
    state: 'verifying',
    kind: 'hang',
    target: 'none',
    healthCommand: ['sleep', '30'],
    ends: { failed: 'HEALTH_CHECK_FAILED' },
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
    ends: { failed: 'HEALTH_CHECK_FAILED' },
  },
  {
    state: 'rolling_back',
    kind: 'power-cut',
    target: 'markBad',
    healthy: false,
    ends: { failed: 'HEALTH_CHECK_FAILED' },
  },
  {
    state: 'failing',
    kind: 'error',
    target: 'bootState',
    error: 'BOOTLOADER_FAILED',
    healthy: false,
    ends: { failed: 'HEALTH_CHECK_FAILED' },
  },
  {
    state: 'failing',
    kind: 'power-cut',
    target: 'bootState',
    healthy: false,
    ends: { failed: 'HEALTH_CHECK_FAILED' },
  },
];

const slotBytes = 6 * 1024 * 1024;
const factory = makeImage('1.0.0');
const log = pino({ level: 'silent' });
let tmp: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  tmp = await makeTempDir('faults');
});
afterAll(async () => {
  await tmp.remove();
});

// A device: slot files, a bootloader, a journal, and a release it is offered.
async function makeRig(name: string, healthy: boolean) {
  const dir = join(tmp.path, name);
  await mkdir(dir, { recursive: true });
  const paths = {
    A: join(dir, 'a.img'),
    B: join(dir, 'b.img'),
    env: join(dir, 'grubenv'),
    cmdline: join(dir, 'cmdline'),
    journal: join(dir, 'journal.json'),
  };
  const slotA = Buffer.alloc(slotBytes);
  factory.copy(slotA);
  await writeFile(paths.A, slotA);
  await writeFile(paths.B, Buffer.alloc(slotBytes));
  await initSimulatedBootloader({
    envPath: paths.env,
    cmdlinePath: paths.cmdline,
    booted: 'A',
    maxTries: 3,
  });
  const rootKey = generateKeyPair();
  const releaseKey = generateKeyPair();
  const root = rootDocument({
    version: 1,
    rootKeys: [rootKey],
    releaseKeys: [releaseKey],
    signers: [rootKey],
  });
  const image = makeImage('2.0.0', { healthy });
  const manifest = signImage(image, [releaseKey], { classId: 'gw', version: '2.0.0' });
  const journal = createJournal(paths.journal, (value) => parseAgentState(value));
  await journal.save(factoryState({ booted: 'A', version: '1.0.0', sequence: 1, trustRoot: root }));
  return { dir, paths, image, journal, source: createFakeSource('deployment-1', manifest, image) };
}

type Rig = Awaited<ReturnType<typeof makeRig>>;

// runOnce builds a runtime with the fault wired in and runs the agent until it stops.
async function runOnce(rig: Rig, c: Case, fault: FaultSwitch) {
  const controller = new AbortController();
  fault.powerCut = () => controller.abort();
  const initial = (await rig.journal.load()) as AgentState;
  let slotB = createRawSlot({ name: 'B', device: rig.paths.B });
  let bootloader = createSimulatedBootloader({
    envPath: rig.paths.env,
    cmdlinePath: rig.paths.cmdline,
  });
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
  const reboots = { reboot: commandReboot(c.rebootCommand?.(rig.dir) ?? ['true'], 300, log) };
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
  const rt = createRuntime({
    settings: {
      classId: 'gw',
      syncEveryBytes: 1024 * 1024,
      progressEveryMs: 0,
      downloadIdleMs: 300,
      inventory: {},
    },
    slots: { A: createRawSlot({ name: 'A', device: rig.paths.A }), B: slotB },
    bootloader,
    source,
    checkHealth: wrapped.checks.checkHealth,
    reboot: wrapped.reboots.reboot,
    now: () => Date.now(),
    log,
    signal,
    journal: rig.journal,
    initial,
  });
  (fault as { armed: () => boolean }).armed = () => rt.state.machine.name === c.state;
  const sleep = async () => undefined;
  try {
    return await runAgent(rt, {
      once: true,
      pollIntervalMs: 1000,
      jitter: 0,
      backoff: { minMs: 1, maxMs: 1 },
      rebootGraceMs: 0,
      sleep,
    });
  } catch (error) {
    if (!(error instanceof PendulumError)) throw error;
    return 'error' as const;
  }
}

// Every slot the bootloader may boot holds a verified image.
async function expectNothingUnverifiedArmed(rig: Rig): Promise<void> {
  const state = await createSimulatedBootloader({
    envPath: rig.paths.env,
    cmdlinePath: rig.paths.cmdline,
  }).state();
  if (state.slots.A.ok)
    expect(sha256Hex((await readFile(rig.paths.A)).subarray(0, factory.length))).toBe(
      sha256Hex(factory),
    );
  if (state.slots.B.ok)
    expect(sha256Hex((await readFile(rig.paths.B)).subarray(0, rig.image.length))).toBe(
      sha256Hex(rig.image),
    );
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
      if (result === 'reboot' || result === 'stopped')
        await simulateBoot({ envPath: rig.paths.env, cmdlinePath: rig.paths.cmdline });
      await expectNothingUnverifiedArmed(rig);
    }
    expect(fault.fired, 'the fault was injected').toBe(true);

    const journal = (await rig.journal.load()) as AgentState;
    const bootloader = createSimulatedBootloader({
      envPath: rig.paths.env,
      cmdlinePath: rig.paths.cmdline,
    });
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
      expect(last).toMatchObject({ state: 'failed', errorCode: c.ends.failed });
      expect(states).not.toContain('committed');
    }
    expect(states.filter((s) => s === 'committed' || s === 'failed')).toHaveLength(1);
  });
});

// inOrder: `expected` appears in `states` as a subsequence.
function inOrder(states: readonly string[], expected: readonly string[]): boolean {
  let at = 0;
  for (const state of states) if (state === expected[at]) at++;
  return at === expected.length;
}
