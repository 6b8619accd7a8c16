import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootState } from '../../../src/device/bootloaders/bootloader.js';
import {
  formatGrubEnv,
  readGrubEnv,
  writeGrubEnv,
} from '../../../src/device/bootloaders/grub-env.js';
import {
  createSimulatedBootloader,
  initSimulatedBootloader,
  type SimulatedBootloaderPaths,
  simulateBoot,
} from '../../../src/device/bootloaders/simulated.js';
import type { SlotName } from '../../../src/device/slots/slot.js';
import { runTool } from '../../../src/device/tools.js';
import { InvariantError, isPendulumError } from '../../../src/errors.js';
import { hasCommand } from '../../support/storage.js';

let root: string;
let count = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pendulum-simboot-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

// freshDevice is a factory-fresh device running `booted`, in its own directory.
async function freshDevice(
  booted: SlotName = 'A',
  maxTries = 3,
): Promise<SimulatedBootloaderPaths> {
  count += 1;
  const paths = {
    envPath: join(root, `grubenv-${count}`),
    cmdlinePath: join(root, `cmdline-${count}`),
  };
  await initSimulatedBootloader({ ...paths, booted, maxTries });
  return paths;
}

// A step is a power-on ("boot") or a bootloader call by the agent.
type Step = 'boot' | `${'markGood' | 'markBad'} ${SlotName}` | `tryOnce ${SlotName} ${number}`;

// run plays the steps and returns the slot each power-on booted. A flow that
// leaves no bootable slot throws from simulateBoot and fails the test.
async function run(paths: SimulatedBootloaderPaths, steps: readonly Step[]): Promise<SlotName[]> {
  const bootloader = createSimulatedBootloader(paths);
  const boots: SlotName[] = [];
  for (const step of steps) {
    const [op, slot, attempts] = step.split(' ') as [string, SlotName, string];
    if (op === 'boot') {
      boots.push(await simulateBoot(paths));
      expect(await bootloader.booted()).toBe(boots.at(-1));
    } else if (op === 'tryOnce') await bootloader.tryOnce(slot, Number(attempts));
    else if (op === 'markGood') await bootloader.markGood(slot);
    else await bootloader.markBad(slot);
  }
  return boots;
}

const table: { name: string; steps: Step[]; boots: SlotName[] }[] = [
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
  },
];

describe('simulated bootloader', () => {
  it.each(table)('$name', async ({ steps, boots }) => {
    expect(await run(await freshDevice('A', 3), steps)).toEqual(boots);
  });

  it('starts a factory-fresh device on its good slot with the other slot not bootable', async () => {
    const paths = await freshDevice('B', 4);
    const bootloader = createSimulatedBootloader(paths);
    expect(bootloader.kind).toBe('simulated');
    expect(await bootloader.booted()).toBe('B');
    expect(await bootloader.state()).toEqual<BootState>({
      order: ['B', 'A'],
      maxTries: 4,
      slots: { A: { ok: false, tries: 0 }, B: { ok: true, tries: 0 } },
    });
  });

  it('counts each boot of a trial and resets the count when the slot is marked good', async () => {
    const paths = await freshDevice('A', 3);
    const bootloader = createSimulatedBootloader(paths);
    await run(paths, ['tryOnce B 3', 'boot', 'boot']);
    expect(await bootloader.state()).toEqual<BootState>({
      order: ['B', 'A'],
      maxTries: 3,
      slots: { A: { ok: true, tries: 0 }, B: { ok: true, tries: 2 } },
    });
    await bootloader.markGood('B');
    expect((await bootloader.state()).slots.B).toEqual({ ok: true, tries: 0 });
  });

  it('fails loudly as "no bootable slot" when no slot may boot', async () => {
    const paths = await freshDevice('A', 3);
    await createSimulatedBootloader(paths).markBad('A');
    const error = await simulateBoot(paths).catch((e: unknown) => e);
    expect(isPendulumError(error, 'BOOTLOADER_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/^no bootable slot in /);
  });

  it('refuses to arm a slot for zero boots', async () => {
    const bootloader = createSimulatedBootloader(await freshDevice());
    await expect(bootloader.tryOnce('B', 0)).rejects.toBeInstanceOf(InvariantError);
  });

  it('keeps every update a complete 1024-byte block with no temp files left', async () => {
    const paths = await freshDevice();
    await run(paths, ['tryOnce B 2', 'boot', 'markGood B', 'boot']);
    expect((await readFile(paths.envPath)).length).toBe(1024);
    expect((await readdir(root)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps variables it does not own', async () => {
    const paths = await freshDevice();
    await writeGrubEnv(
      paths.envPath,
      new Map([['saved_entry', 'rescue'], ...(await readGrubEnv(paths.envPath))]),
    );
    await run(paths, ['tryOnce B 2', 'boot']);
    expect((await readFile(paths.envPath)).toString()).toContain('saved_entry=rescue\n');
  });

  it.each([
    ['A_TRY', { A_TRY: 'x' }, 'A_TRY is "x", expected a boot count'],
    ['MAX_TRY', { MAX_TRY: '0' }, 'MAX_TRY is "0", expected a positive boot count'],
    ['ORDER', { ORDER: 'A C' }, 'ORDER is "A C"'],
    ['ORDER', { ORDER: 'B B' }, 'ORDER is "B B", expected each slot at most once'],
    ['B_OK', { B_OK: undefined }, 'B_OK is missing'],
  ])('reports a malformed %s as BOOTLOADER_FAILED naming it', async (variable, change, reason) => {
    const paths = await freshDevice();
    const vars: Record<string, string | undefined> = {
      ORDER: 'A B',
      MAX_TRY: '3',
      A_OK: '1',
      A_TRY: '0',
      B_OK: '0',
      B_TRY: '0',
      ...change,
    };
    const defined = Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined);
    await writeFile(paths.envPath, formatGrubEnv(Object.fromEntries(defined)));
    const error = await createSimulatedBootloader(paths)
      .state()
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'BOOTLOADER_FAILED')).toBe(true);
    expect((error as Error).message).toContain(`${paths.envPath}: ${reason}`);
    expect((error as { context: object }).context).toMatchObject({ variable });
  });

  it('reports a missing command line file as BOOTLOADER_FAILED naming it', async () => {
    const paths = await freshDevice();
    await rm(paths.cmdlinePath);
    const error = await createSimulatedBootloader(paths)
      .booted()
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'BOOTLOADER_FAILED')).toBe(true);
    expect((error as Error).message).toBe(`cannot read ${paths.cmdlinePath}: ENOENT`);
  });
});

// CI installs grub-common so this runs against the real tool.
describe.skipIf(!hasCommand('grub-editenv'))(
  'simulated bootloader with the real grub-editenv',
  () => {
    it('stores its state where grub-editenv reads it', async () => {
      const paths = await freshDevice('A', 3);
      await run(paths, ['tryOnce B 2', 'boot']);
      const { stdout } = await runTool(['grub-editenv', paths.envPath, 'list'], {
        timeoutMs: 10_000,
      });
      expect(stdout).toBe('ORDER=B A\nMAX_TRY=2\nA_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=1\n');
    });

    it('follows a change grub-editenv made', async () => {
      const paths = await freshDevice('A', 3);
      await runTool(['grub-editenv', paths.envPath, 'set', 'B_OK=1', 'ORDER=B A'], {
        timeoutMs: 10_000,
      });
      expect(await simulateBoot(paths)).toBe('B');
    });
  },
);
