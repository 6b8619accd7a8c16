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
import { type BootRig, play, type Step, sequences } from './harness.js';

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

// rig is the device in `paths` with simulateBoot as its firmware.
function rig(paths: SimulatedBootloaderPaths): BootRig {
  return { bootloader: createSimulatedBootloader(paths), powerOn: () => simulateBoot(paths) };
}

const run = (paths: SimulatedBootloaderPaths, steps: readonly Step[]) => play(rig(paths), steps);

describe('simulated bootloader', () => {
  it.each(sequences)('$name', async ({ steps, boots }) => {
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

  it('reports a missing command line file as BOOTLOADER_FAILED naming the backend and file', async () => {
    const paths = await freshDevice();
    await rm(paths.cmdlinePath);
    const error = await createSimulatedBootloader(paths)
      .booted()
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'BOOTLOADER_FAILED')).toBe(true);
    expect((error as Error).message).toBe(`simulated: cannot read ${paths.cmdlinePath}: ENOENT`);
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
