import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type BootloaderConfig,
  bootloaderTypes,
  createBootloader,
} from '../../../src/device/bootloaders/registry.js';
import { initSimulatedBootloader } from '../../../src/device/bootloaders/simulated.js';
import { isPendulumError } from '../../../src/errors.js';

describe('bootloader registry', () => {
  it('builds the simulated bootloader over the configured files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pendulum-bootreg-'));
    try {
      const env = join(dir, 'grubenv');
      const cmdline = join(dir, 'cmdline');
      await initSimulatedBootloader({
        envPath: env,
        cmdlinePath: cmdline,
        booted: 'B',
        maxTries: 2,
      });
      const bootloader = createBootloader({ type: 'simulated', env, cmdline });
      expect(bootloader.kind).toBe('simulated');
      expect(await bootloader.booted()).toBe('B');
      expect((await bootloader.state()).maxTries).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('builds the GRUB, U-Boot and EFI backends from their configuration', () => {
    const configs: BootloaderConfig[] = [
      {
        type: 'grub',
        env: '/boot/grub/grubenv',
        tool: 'native',
        cmdline: '/proc/cmdline',
        timeout: 1,
      },
      {
        type: 'grub',
        env: '/boot/grub/grubenv',
        tool: 'grub-editenv',
        cmdline: '/proc/cmdline',
        timeout: 1,
      },
      {
        type: 'u-boot',
        config: '/etc/fw_env.config',
        cmdline: '/proc/cmdline',
        attempts: 3,
        timeout: 1,
      },
      { type: 'efi', entries: { A: '0001', B: '0002' }, timeout: 1 },
    ];
    expect(configs.map((config) => createBootloader(config).kind)).toEqual([
      'grub',
      'grub',
      'u-boot',
      'efi',
    ]);
  });

  it('names an unknown bootloader type and the known ones', () => {
    let error: unknown;
    try {
      createBootloader({ type: 'barebox', env: 'x' } as unknown as BootloaderConfig);
    } catch (e) {
      error = e;
    }
    expect(isPendulumError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toBe(
      `unknown bootloader type "barebox" (known: ${bootloaderTypes.join(', ')})`,
    );
    expect(bootloaderTypes).toEqual(['simulated', 'grub', 'u-boot', 'efi']);
  });
});
