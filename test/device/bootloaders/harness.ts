// What every bootloader backend's tests share. The bootchooser contract as
// sequences of power-ons and agent calls, played by every backend against its
// firmware (after RAUC's bootchooser tests), and the tool failures every
// backend must report alike.
// EFI differs where the contract leaves room: BootNext is one boot whatever
// the attempts, and a committed slot has no boot counting — `efi` gives its
// outcome where it differs.
import { afterAll, beforeAll, expect, vi } from 'vitest';
import { isTrialPending, needsMarkGood } from '../../../src/device/boot-state.js';
import type { Bootloader } from '../../../src/device/bootloaders/bootloader.js';
import type { SlotName } from '../../../src/device/slots/slot.js';
import { isPendulumError, type PendulumError } from '../../../src/errors.js';
import { createFakeBootTools } from '../../fakes/boot-tools.js';
import { createFakeTools, type FakeTools } from '../../fakes/fake-tool.js';
import { addEfivarfsEfibootmgr } from '../../support/efivarfs.js';
import { hasCommand } from '../../support/storage.js';
import { makeTempDir } from '../../support/temp-dir.js';

// A step is a power-on ("boot") or a bootloader call by the agent.
export type Step =
  | 'boot'
  | `${'markGood' | 'markBad'} ${SlotName}`
  | `tryOnce ${SlotName} ${number}`;

// A device whose firmware boots slot A, the other never written; at
// least 2 boots for a committed slot.
export interface BootRig {
  readonly bootloader: Bootloader;
  // powerOn is the firmware's choice at power-on, which booted() must then report.
  powerOn(): Promise<SlotName>;
}

// play runs the steps and returns the slot each power-on booted.
export async function play(rig: BootRig, steps: readonly Step[]): Promise<SlotName[]> {
  const boots: SlotName[] = [];
  for (const step of steps) {
    const [op, slot, attempts] = step.split(' ') as [string, SlotName, string];
    if (op === 'boot') {
      boots.push(await rig.powerOn());
      expect(await rig.bootloader.booted()).toBe(boots.at(-1));
    } else if (op === 'tryOnce') await rig.bootloader.tryOnce(slot, Number(attempts));
    else if (op === 'markGood') await rig.bootloader.markGood(slot);
    else await rig.bootloader.markBad(slot);
  }
  return boots;
}

export const sequences: {
  name: string;
  steps: Step[];
  boots: SlotName[];
  efi?: SlotName[];
}[] = [
  {
    name: 'a factory-fresh device keeps booting its slot while each boot is confirmed',
    steps: ['boot', 'markGood A', 'boot', 'markGood A', 'boot', 'markGood A', 'boot'],
    boots: ['A', 'A', 'A', 'A'],
  },
  {
    name: 'an armed slot boots next and stays once marked good',
    steps: ['tryOnce B 3', 'boot', 'markGood B', 'boot', 'markGood B', 'boot'],
    boots: ['B', 'B', 'B'],
  },
  {
    name: 'falls back to the old slot after N unconfirmed boots',
    steps: ['tryOnce B 3', 'boot', 'boot', 'boot', 'boot', 'markGood A', 'boot'],
    boots: ['B', 'B', 'B', 'A', 'A'],
    efi: ['B', 'A', 'A', 'A', 'A'],
  },
  {
    name: 'falls back after one unconfirmed boot when armed for one attempt',
    steps: ['tryOnce B 1', 'boot', 'boot'],
    boots: ['B', 'A'],
  },
  {
    name: 'a slot marked bad after its trial is not booted again',
    steps: [
      'tryOnce B 3',
      'boot',
      'markBad B',
      'boot',
      'markGood A',
      'boot',
      'markGood A',
      'boot',
      'boot',
    ],
    boots: ['B', 'A', 'A', 'A', 'A'],
  },
  {
    name: 'arming again restarts the count of the trial',
    steps: ['tryOnce B 2', 'boot', 'tryOnce B 2', 'boot', 'boot', 'boot'],
    boots: ['B', 'B', 'B', 'A'],
    efi: ['B', 'B', 'A', 'A'],
  },
  {
    name: 'marking the running slot good before the reboot cancels the trial',
    steps: ['tryOnce B 3', 'markGood A', 'boot'],
    boots: ['A'],
  },
  {
    name: 'a failed slot can be retried with the next release',
    steps: [
      'tryOnce B 1',
      'boot',
      'boot',
      'markBad B',
      'markGood A',
      'tryOnce B 1',
      'boot',
      'markGood B',
      'boot',
    ],
    boots: ['B', 'A', 'B', 'B'],
  },
  {
    name: 'updates alternate between the slots',
    steps: ['tryOnce B 2', 'boot', 'markGood B', 'tryOnce A 2', 'boot', 'markGood A', 'boot'],
    boots: ['B', 'A', 'A'],
  },
  {
    name: 'a committed slot that stops confirming its boots falls back to the previous release',
    steps: ['tryOnce B 2', 'boot', 'markGood B', 'boot', 'boot', 'boot'],
    boots: ['B', 'B', 'B', 'A'],
    efi: ['B', 'B', 'B', 'B'],
  },
];

// What the agent reads from the bootloader at each point of an update:
// isTrialPending for the new slot B, and needsMarkGood for the running slot
// (settleBoot marks it good on start when true, unless a trial is pending).
export const agentView: {
  when: string;
  steps: Step[];
  booted: SlotName;
  pending: boolean;
  markGood: boolean;
  efi?: { pending: boolean; markGood: boolean };
}[] = [
  // With boot counting, every boot uses up one attempt until marked good.
  {
    when: 'the factory slot has booted',
    steps: ['boot'],
    booted: 'A',
    pending: false,
    markGood: true,
    efi: { pending: false, markGood: false },
  },
  {
    when: 'the boot is confirmed',
    steps: ['boot', 'markGood A'],
    booted: 'A',
    pending: false,
    markGood: false,
  },
  {
    when: 'the new slot is armed',
    steps: ['boot', 'markGood A', 'tryOnce B 3'],
    booted: 'A',
    pending: true,
    markGood: true,
  },
  // EFI: the firmware consumed BootNext; B is in no BootOrder until committed.
  {
    when: 'the new slot runs its trial',
    steps: ['boot', 'markGood A', 'tryOnce B 3', 'boot'],
    booted: 'B',
    pending: true,
    markGood: true,
    efi: { pending: false, markGood: true },
  },
  {
    when: 'the new slot is committed',
    steps: ['boot', 'markGood A', 'tryOnce B 3', 'boot', 'markGood B'],
    booted: 'B',
    pending: true,
    markGood: false,
  },
  {
    when: 'the trial failed and the old slot booted',
    steps: ['boot', 'markGood A', 'tryOnce B 1', 'boot', 'boot'],
    booted: 'A',
    pending: false,
    markGood: true,
    efi: { pending: false, markGood: false },
  },
  {
    when: 'the failed slot is marked bad',
    steps: ['boot', 'markGood A', 'tryOnce B 1', 'boot', 'boot', 'markBad B', 'markGood A'],
    booted: 'A',
    pending: false,
    markGood: false,
  },
];

// checkAgentView plays `view`'s steps on a fresh rig and checks what the agent reads.
export async function checkAgentView(
  rig: BootRig,
  view: (typeof agentView)[number],
  efi: boolean,
): Promise<void> {
  await play(rig, view.steps);
  const state = await rig.bootloader.state();
  const expected = (efi ? view.efi : undefined) ?? view;
  expect(await rig.bootloader.booted()).toBe(view.booted);
  expect({
    pending: isTrialPending(state, 'B'),
    markGood: needsMarkGood(state, view.booted),
  }).toEqual({ pending: expected.pending, markGood: expected.markGood });
}

// bootloaderFailure awaits a call that must fail with BOOTLOADER_FAILED.
export async function bootloaderFailure(promise: Promise<unknown>): Promise<PendulumError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isPendulumError(error, 'BOOTLOADER_FAILED'), `got ${String(error)}`).toBe(true);
  return error as PendulumError;
}

// expectToolFailure runs `call` with a `tool` first on PATH that prints to stderr
// and exits 3, and checks the failure names the backend, the tool, its exit
// code and what it printed.
export async function expectToolFailure(
  backend: string,
  tool: string,
  call: () => Promise<unknown>,
): Promise<void> {
  const tools = await createFakeTools();
  const path = process.env.PATH ?? '';
  try {
    await tools.add(
      tool,
      'echo "$0: cannot access the environment: Input/output error" >&2; exit 3',
    );
    vi.stubEnv('PATH', tools.env.PATH);
    const error = await bootloaderFailure(call());
    expect(error.message).toMatch(
      new RegExp(`^${backend}: ${tool} exited 3: .*Input/output error`),
    );
    expect(error.context).toMatchObject({ backend, tool, exitCode: 3 });
    expect(error.context.stderr).toContain('cannot access the environment: Input/output error');
  } finally {
    vi.stubEnv('PATH', path);
    await tools.remove();
  }
}

export interface BootTestDirs {
  // Where the test file's rigs go.
  readonly root: string;
  // The stateful fake tools.
  readonly fakes: FakeTools;
  // The real tools, with efibootmgr wrapped to work on efivarfs files.
  readonly real: FakeTools;
}

// useBootTestDirs gives the calling test file its directories, removed (and
// the environment restored) after its tests.
export function useBootTestDirs(prefix: string): BootTestDirs {
  let tmp: { path: string; remove: () => Promise<void> } | undefined;
  let fakes: FakeTools | undefined;
  let real: FakeTools | undefined;
  beforeAll(async () => {
    tmp = await makeTempDir(prefix);
    fakes = await createFakeBootTools();
    real = await createFakeTools();
    if (hasCommand('efibootmgr')) await addEfivarfsEfibootmgr(real);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await fakes?.remove();
    await real?.remove();
    await tmp?.remove();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useBootTestDirs: used before its beforeAll ran');
    return value;
  };
  return {
    get root() {
      return ready(tmp).path;
    },
    get fakes() {
      return ready(fakes);
    },
    get real() {
      return ready(real);
    },
  };
}

// useToolsOnPath puts `tools()` first on PATH for the tests of the calling describe.
export function useToolsOnPath(tools: () => FakeTools): void {
  beforeAll(() => {
    vi.stubEnv('PATH', tools().env.PATH);
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });
}
