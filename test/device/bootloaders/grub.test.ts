import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { describe, expect, it, vi } from 'vitest';
import { createGrubBootloader, type GrubEnvAccess } from '../../../src/device/bootloaders/grub.js';
import { formatGrubEnv, readGrubEnv } from '../../../src/device/bootloaders/grub-env.js';
import { runTool } from '../../../src/device/tools.js';
import { InvariantError } from '../../../src/errors.js';
import { createFakeTools } from '../../fakes/fake-tool.js';
import { hasCommand } from '../../support/storage.js';
import {
  agentView,
  bootloaderFailure,
  checkAgentView,
  expectToolFailure,
  play,
  sequences,
  useBootTestDirs,
  useToolsOnPath,
} from './harness.js';
import { grubRig } from './rigs.js';

const dirs = useBootTestDirs('grub');

const native: GrubEnvAccess = { tool: 'native' };
const editenv: GrubEnvAccess = { tool: 'grub-editenv', timeoutMs: 10_000 };

const device = (access: GrubEnvAccess) => grubRig(dirs.root, access);

describe.each([
  ['natively', native],
  ['with grub-editenv', editenv],
])('GRUB backend %s (fake grub-editenv)', (_, access) => {
  useToolsOnPath(() => dirs.fakes);

  it.each(sequences)('$name', async ({ steps, boots }) => {
    expect(await play(await device(access), steps)).toEqual(boots);
  });

  it.each(agentView)('tells the agent the truth when $when', async (view) => {
    await checkAgentView(await device(access), view, false);
  });

  it('keeps variables it does not own', async () => {
    const { envPath, bootloader } = await device(access);
    await writeFile(
      envPath,
      formatGrubEnv(new Map([['saved_entry', 'rescue'], ...(await readGrubEnv(envPath))])),
    );
    await bootloader.tryOnce('B', 2);
    expect((await readGrubEnv(envPath)).get('saved_entry')).toBe('rescue');
  });

  it('refuses a block that is not exactly 1024 bytes, and leaves it as it is', async () => {
    const { envPath, bootloader } = await device(access);
    const grown = Buffer.concat([await readFile(envPath), Buffer.alloc(1024, '#')]);
    await writeFile(envPath, grown);
    const error = await bootloaderFailure(bootloader.markGood('A'));
    expect(error.message).toBe(
      `grub: ${envPath} is 2048 bytes, not a 1024-byte GRUB environment block`,
    );
    expect(error.context).toMatchObject({ backend: 'grub', file: envPath });
    expect((await readFile(envPath)).equals(grown)).toBe(true);
  });

  it('refuses a missing environment file instead of creating one', async () => {
    const { envPath, bootloader } = await device(access);
    await rm(envPath);
    const error = await bootloaderFailure(bootloader.state());
    expect(error.message).toBe(`grub: cannot read GRUB environment ${envPath}: ENOENT`);
    await bootloaderFailure(bootloader.tryOnce('B', 3));
    await expect(stat(envPath)).rejects.toThrow('ENOENT');
  });

  it.each([
    ['A_TRY', { A_TRY: 'x' }, 'A_TRY is "x", expected a boot count'],
    ['MAX_TRY', { MAX_TRY: '0' }, 'MAX_TRY is "0", expected a positive boot count'],
    ['ORDER', { ORDER: 'A C' }, 'ORDER is "A C"'],
    ['B_OK', { B_OK: 'yes' }, 'B_OK is "yes", expected 0 or 1'],
    ['B_TRY', { B_TRY: undefined }, 'B_TRY is missing'],
  ])('refuses to read or change a malformed %s, naming it', async (variable, change, reason) => {
    const { envPath, bootloader } = await device(access);
    const vars = Object.entries({
      ORDER: 'A B',
      MAX_TRY: '3',
      A_OK: '1',
      A_TRY: '0',
      B_OK: '0',
      B_TRY: '0',
      ...change,
    });
    await writeFile(
      envPath,
      formatGrubEnv(new Map(vars.filter((e): e is [string, string] => e[1] !== undefined))),
    );
    const before = await readFile(envPath);
    for (const call of [() => bootloader.state(), () => bootloader.markBad('B')]) {
      const error = await bootloaderFailure(call());
      expect(error.message).toContain(`grub: ${envPath}: ${reason}`);
      expect(error.context).toMatchObject({ backend: 'grub', variable });
    }
    expect((await readFile(envPath)).equals(before)).toBe(true);
  });

  it('refuses to arm a slot for zero boots', async () => {
    await expect((await device(access)).bootloader.tryOnce('B', 0)).rejects.toBeInstanceOf(
      InvariantError,
    );
  });
});

describe('GRUB backend natively', () => {
  it('rewrites the block in place: same file, 1024 bytes, no temp files', async () => {
    const rig = await device(native);
    const { envPath } = rig;
    const before = await stat(envPath);
    await play(rig, ['tryOnce B 2', 'boot', 'markGood B', 'boot', 'markBad A']);
    const after = await stat(envPath);
    expect({ ino: after.ino, size: after.size }).toEqual({ ino: before.ino, size: 1024 });
    expect((await readFile(envPath)).subarray(0, 25).toString()).toBe('# GRUB Environment Block\n');
  });

  it('refuses a file that is not a GRUB environment block', async () => {
    const { envPath, bootloader } = await device(native);
    await writeFile(envPath, Buffer.alloc(1024, 'x'));
    const error = await bootloaderFailure(bootloader.markGood('A'));
    expect(error.message).toContain('is not a GRUB environment block');
  });

  it('reads the booted slot from pendulum.slot= on the kernel command line', async () => {
    const { cmdlinePath, bootloader } = await device(native);
    await writeFile(cmdlinePath, 'root=/dev/sda3 ro pendulum.slot=B quiet\n');
    expect(await bootloader.booted()).toBe('B');
    await writeFile(cmdlinePath, 'root=/dev/sda3 ro\n');
    const error = await bootloaderFailure(bootloader.booted());
    expect(error.message).toBe(
      `grub: ${cmdlinePath}: no pendulum.slot= on the kernel command line`,
    );
  });
});

describe('GRUB backend with grub-editenv', () => {
  it('reports a failing grub-editenv with its exit code and stderr', async () => {
    const { bootloader } = await device(editenv);
    await expectToolFailure('grub', 'grub-editenv', () => bootloader.state());
    await expectToolFailure('grub', 'grub-editenv', () => bootloader.tryOnce('B', 3));
  });

  it('stops a hung grub-editenv at its timeout', async () => {
    const { envPath, cmdlinePath } = await device(editenv);
    const hung = await createFakeTools();
    await hung.add('grub-editenv', 'exec sleep 30');
    vi.stubEnv('PATH', hung.env.PATH);
    try {
      const bootloader = createGrubBootloader({
        tool: 'grub-editenv',
        timeoutMs: 200,
        env: envPath,
        cmdline: cmdlinePath,
      });
      const error = await bootloaderFailure(bootloader.state());
      expect(error.message).toBe('grub: grub-editenv timed out after 200 ms');
      expect(error.context).toMatchObject({
        backend: 'grub',
        tool: 'grub-editenv',
        timedOut: true,
      });
    } finally {
      vi.unstubAllEnvs();
      await hung.remove();
    }
  });
});

// CI installs grub-common so this runs against the real tool.
describe.skipIf(!hasCommand('grub-editenv'))('GRUB backend with the real grub-editenv', () => {
  const list = async (path: string) =>
    (await runTool(['grub-editenv', path, 'list'], { timeoutMs: 10_000 })).stdout;

  it.each(sequences.slice(0, 6))('$name', async ({ steps, boots }) => {
    expect(await play(await device(editenv), steps)).toEqual(boots);
  });

  it('grub-editenv reads what the native backend wrote, and the block stays 1024 bytes', async () => {
    const rig = await device(native);
    const { envPath } = rig;
    await play(rig, ['tryOnce B 2', 'boot']);
    expect(await list(envPath)).toBe('ORDER=B A\nMAX_TRY=2\nA_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=1\n');
    expect((await stat(envPath)).size).toBe(1024);
  });

  it('the native backend reads and updates a block grub-editenv created', async () => {
    const { envPath, cmdlinePath } = await device(native);
    await rm(envPath);
    const editenvRun = (...args: string[]) =>
      runTool(['grub-editenv', envPath, ...args], { timeoutMs: 10_000 });
    await editenvRun('create');
    await editenvRun(
      'set',
      'saved_entry=0',
      'ORDER=B A',
      'MAX_TRY=3',
      'A_OK=1',
      'A_TRY=0',
      'B_OK=1',
      'B_TRY=3',
    );
    const bootloader = createGrubBootloader({ tool: 'native', env: envPath, cmdline: cmdlinePath });
    expect(await bootloader.state()).toEqual({
      order: ['B', 'A'],
      maxTries: 3,
      slots: { A: { ok: true, tries: 0 }, B: { ok: true, tries: 3 } },
    });
    await bootloader.markBad('B');
    expect(await list(envPath)).toBe(
      'saved_entry=0\nORDER=A B\nMAX_TRY=3\nA_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=0\n',
    );
    expect((await stat(envPath)).size).toBe(1024);
  });
});
