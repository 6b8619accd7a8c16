// The [bootloader] section of agent.toml: each backend's keys, defaults and
// path resolution, and the mistakes refused before the agent starts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configRefusal, loadAgentToml } from '../../support/agent-config.js';
import { makeTempDir } from '../../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  tmp = await makeTempDir('bootcfg');
});
afterAll(async () => {
  await tmp.remove();
});

// load reads an agent.toml whose [bootloader] section is `section`.
const load = async (section: string) =>
  (await loadAgentToml(tmp.path, { bootloader: section })).bootloader;
const refusal = (section: string) => configRefusal(load(section));

describe('agent config [bootloader]', () => {
  it('gives GRUB its defaults: native writes, /proc/cmdline, 10 s per tool run', async () => {
    expect(await load('type = "grub"\nenv = "/boot/efi/EFI/BOOT/grubenv"')).toEqual({
      type: 'grub',
      env: '/boot/efi/EFI/BOOT/grubenv',
      tool: 'native',
      cmdline: '/proc/cmdline',
      timeout: 10_000,
    });
  });

  it('resolves GRUB and U-Boot paths against the config file', async () => {
    expect(
      await load(
        'type = "grub"\nenv = "boot/grubenv"\ntool = "grub-editenv"\ncmdline = "cmdline"\ntimeout = "3s"',
      ),
    ).toEqual({
      type: 'grub',
      env: join(tmp.path, 'boot/grubenv'),
      tool: 'grub-editenv',
      cmdline: join(tmp.path, 'cmdline'),
      timeout: 3_000,
    });
    expect(await load('type = "u-boot"\nconfig = "fw_env.config"')).toMatchObject({
      config: join(tmp.path, 'fw_env.config'),
      cmdline: '/proc/cmdline',
    });
  });

  it('gives U-Boot its defaults: /etc/fw_env.config and 3 boots for a committed slot', async () => {
    expect(await load('type = "u-boot"')).toEqual({
      type: 'u-boot',
      config: '/etc/fw_env.config',
      attempts: 3,
      cmdline: '/proc/cmdline',
      timeout: 10_000,
    });
  });

  it('takes EFI boot entries per slot', async () => {
    expect(await load('type = "efi"\nentries = { A = "0001", B = "000a" }')).toEqual({
      type: 'efi',
      entries: { A: '0001', B: '000a' },
      timeout: 10_000,
    });
  });

  it.each([
    [
      'a GRUB tool it does not know',
      'type = "grub"\nenv = "grubenv"\ntool = "editenv"',
      '"bootloader.tool"',
    ],
    ['GRUB without its environment block', 'type = "grub"', '"bootloader.env": Required'],
    ['U-Boot with zero attempts', 'type = "u-boot"\nattempts = 0', '"bootloader.attempts"'],
    [
      'U-Boot with more boots than its script counts',
      'type = "u-boot"\nattempts = 10',
      '"bootloader.attempts"',
    ],
    [
      'an EFI entry that is not four hex digits',
      'type = "efi"\nentries = { A = "1", B = "0002" }',
      '"bootloader.entries.A": expected a boot entry number of four hex digits',
    ],
    [
      'one EFI entry for both slots',
      'type = "efi"\nentries = { A = "0001", B = "0001" }',
      'slots A and B need different boot entries',
    ],
    [
      'an EFI slot without an entry',
      'type = "efi"\nentries = { A = "0001" }',
      '"bootloader.entries.B": Required',
    ],
    [
      'a key of another backend',
      'type = "efi"\nentries = { A = "0001", B = "0002" }\nenv = "grubenv"',
      '"bootloader.env": is not a known setting',
    ],
    ['an unknown type', 'type = "barebox"', '"bootloader.type"'],
  ])('refuses %s', async (_, section, reason) => {
    expect(await refusal(section)).toContain(reason);
  });
});
