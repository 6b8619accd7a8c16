import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { BootState } from '../../../src/device/bootloaders/bootloader.js';
import { initUBootEnv } from '../../../src/device/bootloaders/uboot.js';
import { InvariantError } from '../../../src/errors.js';
import { createFakeTools } from '../../fakes/fake-tool.js';
import { hasCommand } from '../../support/storage.js';
import { formatUBootEnv, parseUBootEnv } from '../../support/uboot-env-image.js';
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
import { uBootAttempts, uBootEnvSize, uBootRig } from './rigs.js';

const timeoutMs = 10_000;

const dirs = useBootTestDirs('uboot');

const device = (format: 'fake' | 'image') => uBootRig(dirs.root, format);

describe('U-Boot backend (fake fw_printenv / fw_setenv)', () => {
  useToolsOnPath(() => dirs.fakes);

  it.each(sequences)('$name', async ({ steps, boots }) => {
    expect(await play(await device('fake'), steps)).toEqual(boots);
  });

  it.each(agentView)('tells the agent the truth when $when', async (view) => {
    await checkAgentView(await device('fake'), view, false);
  });

  it('maps boots left onto tries: tries = BOOT_MAX_TRY - BOOT_<slot>_LEFT', async () => {
    const rig = await device('fake');
    const { store, bootloader } = rig;
    expect(await bootloader.state()).toEqual<BootState>({
      order: ['A', 'B'],
      maxTries: 2,
      slots: { A: { ok: true, tries: 0 }, B: { ok: false, tries: 2 } },
    });
    await play(rig, ['tryOnce B 3', 'boot']);
    expect(await store.read()).toMatchObject({
      BOOT_ORDER: 'B A',
      BOOT_B_LEFT: '2',
      BOOT_MAX_TRY: '3',
    });
    expect(await bootloader.state()).toEqual<BootState>({
      order: ['B', 'A'],
      maxTries: 3,
      slots: { A: { ok: true, tries: 1 }, B: { ok: true, tries: 1 } },
    });
  });

  it('arms at most 9 boots, because the boot script counts in one digit', async () => {
    const { store, bootloader } = await device('fake');
    await bootloader.tryOnce('B', 16);
    expect(await store.read()).toMatchObject({ BOOT_B_LEFT: '9', BOOT_MAX_TRY: '9' });
    await bootloader.tryOnce('B', 4);
    expect(await store.read()).toMatchObject({ BOOT_B_LEFT: '4', BOOT_MAX_TRY: '4' });
  });

  it('does not boot a slot missing from BOOT_ORDER, whatever its boots left', async () => {
    const { store, bootloader } = await device('fake');
    await store.write({ ...(await store.read()), BOOT_ORDER: 'A', BOOT_B_LEFT: '2' });
    expect((await bootloader.state()).order).toEqual(['A', 'B']);
    expect((await bootloader.state()).slots.B.ok).toBe(false);
  });

  it('changes every variable in one fw_setenv run, and none when nothing changes', async () => {
    const { config, bootloader } = await device('fake');
    const log = join(dirs.root, `fw_setenv-${Date.now()}.log`);
    const logged = await createFakeTools();
    const real = join(dirs.fakes.dir, 'fw_setenv');
    await logged.add('fw_setenv', `echo "$*" >> ${log}; exec ${real} "$@"`);
    vi.stubEnv('PATH', logged.env.PATH);
    try {
      await bootloader.tryOnce('B', 3);
      await bootloader.markGood('B');
      await bootloader.markGood('B');
      await bootloader.markBad('A');
    } finally {
      vi.stubEnv('PATH', dirs.fakes.env.PATH);
      await logged.remove();
    }
    const options = `-c ${config} -f /dev/null/no-default-environment`;
    expect((await readFile(log, 'utf8')).split('\n')).toEqual([
      `${options} BOOT_ORDER B A BOOT_B_LEFT 3 BOOT_MAX_TRY 3`,
      `${options} BOOT_B_LEFT 2 BOOT_MAX_TRY 2`,
      `${options} BOOT_A_LEFT 0`,
      '',
    ]);
  });

  it('keeps the variables U-Boot owns', async () => {
    const { store, bootloader } = await device('fake');
    await store.write({ ...(await store.read()), bootcmd: 'run pendulum_boot', bootdelay: '0' });
    await bootloader.tryOnce('B', 3);
    expect(await store.read()).toMatchObject({ bootcmd: 'run pendulum_boot', bootdelay: '0' });
  });

  it('refuses an unreadable environment instead of starting from defaults', async () => {
    const { env, bootloader } = await device('fake');
    await writeFile(env, 'garbage');
    for (const call of [() => bootloader.state(), () => bootloader.markGood('A')]) {
      const error = await bootloaderFailure(call());
      expect(error.message).toMatch(/^u-boot: fw_printenv exited 243: Cannot read environment/);
      expect(error.context).toMatchObject({
        backend: 'u-boot',
        tool: 'fw_printenv',
        exitCode: 243,
      });
    }
    expect(await readFile(env, 'utf8')).toBe('garbage');
  });

  it.each([
    ['BOOT_A_LEFT', { BOOT_A_LEFT: 'x' }, 'BOOT_A_LEFT is "x", expected a boot count'],
    ['BOOT_MAX_TRY', { BOOT_MAX_TRY: '0' }, 'BOOT_MAX_TRY is "0", expected a positive boot count'],
    ['BOOT_ORDER', { BOOT_ORDER: 'A C' }, 'BOOT_ORDER is "A C"'],
    ['BOOT_ORDER', { BOOT_ORDER: 'B B' }, 'BOOT_ORDER is "B B", expected each slot at most once'],
    ['BOOT_B_LEFT', { BOOT_B_LEFT: undefined }, 'BOOT_B_LEFT is missing'],
  ])('refuses to read or change a malformed %s, naming it', async (variable, change, reason) => {
    const { config, store, bootloader } = await device('fake');
    const vars = Object.entries({ ...(await store.read()), ...change });
    await store.write(
      Object.fromEntries(vars.filter((e): e is [string, string] => e[1] !== undefined)),
    );
    const before = await store.read();
    for (const call of [() => bootloader.state(), () => bootloader.tryOnce('B', 3)]) {
      const error = await bootloaderFailure(call());
      expect(error.message).toContain(`u-boot: ${config}: ${reason}`);
      expect(error.context).toMatchObject({ backend: 'u-boot', variable });
    }
    expect(await store.read()).toEqual(before);
  });

  it('reports failing fw_printenv and fw_setenv with exit code and stderr', async () => {
    const { bootloader } = await device('fake');
    await expectToolFailure('u-boot', 'fw_printenv', () => bootloader.state());
    await expectToolFailure('u-boot', 'fw_setenv', () => bootloader.tryOnce('B', 3));
  });

  it('refuses to arm a slot for zero boots', async () => {
    const { bootloader } = await device('fake');
    await expect(bootloader.tryOnce('B', 0)).rejects.toBeInstanceOf(InvariantError);
  });

  it('initUBootEnv creates a missing environment file', async () => {
    const { env, config, store } = await device('fake');
    await rm(env);
    await initUBootEnv({ config, booted: 'B', attempts: 4, timeoutMs });
    expect(await store.read()).toEqual({
      BOOT_ORDER: 'B A',
      BOOT_B_LEFT: '4',
      BOOT_A_LEFT: '0',
      BOOT_MAX_TRY: '4',
    });
  });
});

// CI installs libubootenv-tool so this runs against the real tools, with the
// boot script played by code that writes and checks U-Boot's own format.
describe.skipIf(!(hasCommand('fw_printenv') && hasCommand('fw_setenv')))(
  'U-Boot backend with the real fw_printenv / fw_setenv',
  () => {
    it.each(sequences)('$name', async ({ steps, boots }) => {
      expect(await play(await device('image'), steps)).toEqual(boots);
    });

    it('reads an environment U-Boot saved with env export -c', async () => {
      const { env, bootloader } = await device('image');
      const vars = { BOOT_ORDER: 'B A', BOOT_A_LEFT: '3', BOOT_B_LEFT: '1', BOOT_MAX_TRY: '3' };
      await writeFile(env, formatUBootEnv({ ...vars, bootcmd: 'run pendulum_boot' }, uBootEnvSize));
      expect(await bootloader.state()).toEqual<BootState>({
        order: ['B', 'A'],
        maxTries: 3,
        slots: { A: { ok: true, tries: 0 }, B: { ok: true, tries: 2 } },
      });
    });

    it('writes an environment U-Boot env import -c accepts: same size, valid CRC, all variables', async () => {
      const { env, bootloader } = await device('image');
      await writeFile(
        env,
        formatUBootEnv({ ...parseUBootEnv(await readFile(env)), bootdelay: '0' }, uBootEnvSize),
      );
      await bootloader.tryOnce('B', 3);
      const image = await readFile(env);
      expect(image.length).toBe(uBootEnvSize);
      expect(parseUBootEnv(image)).toEqual({
        BOOT_ORDER: 'B A',
        BOOT_A_LEFT: String(uBootAttempts),
        BOOT_B_LEFT: '3',
        BOOT_MAX_TRY: '3',
        bootdelay: '0',
      });
    });

    it('initUBootEnv starts a valid environment in an empty, a missing or an all-zero file', async () => {
      const { env, config } = await device('image');
      for (const prepare of [
        () => writeFile(env, ''),
        () => rm(env),
        () => writeFile(env, Buffer.alloc(uBootEnvSize)),
      ]) {
        await prepare();
        await initUBootEnv({ config, booted: 'A', attempts: 3, timeoutMs });
        expect((await stat(env)).size).toBe(uBootEnvSize);
        expect(parseUBootEnv(await readFile(env))).toEqual({
          BOOT_ORDER: 'A B',
          BOOT_A_LEFT: '3',
          BOOT_B_LEFT: '0',
          BOOT_MAX_TRY: '3',
        });
      }
    });

    it.each([
      ['all zeros', () => Buffer.alloc(uBootEnvSize)],
      [
        'a bad CRC',
        () => {
          const image = formatUBootEnv(
            { BOOT_ORDER: 'A B', BOOT_A_LEFT: '3', BOOT_B_LEFT: '0', BOOT_MAX_TRY: '3' },
            uBootEnvSize,
          );
          image[10] = (image[10] ?? 0) ^ 0xff;
          return image;
        },
      ],
    ])('refuses an environment of %s and leaves it untouched', async (_, image) => {
      const { env, bootloader } = await device('image');
      const bytes = image();
      await writeFile(env, bytes);
      for (const call of [() => bootloader.state(), () => bootloader.markGood('A')]) {
        const error = await bootloaderFailure(call());
        expect(error.message).toMatch(/^u-boot: fw_printenv exited \d+: Cannot read environment/);
        expect(error.context).toMatchObject({ backend: 'u-boot', tool: 'fw_printenv' });
        expect(error.context.exitCode).not.toBe(0);
        expect(error.context.stderr).toContain('Cannot read environment');
      }
      expect((await readFile(env)).equals(bytes)).toBe(true);
    });

    it('refuses a missing environment file', async () => {
      const { env, bootloader } = await device('image');
      await rm(env);
      const error = await bootloaderFailure(bootloader.state());
      expect(error.message).toMatch(/^u-boot: fw_printenv exited \d+/);
      await expect(stat(env)).rejects.toThrow('ENOENT');
    });
  },
);
