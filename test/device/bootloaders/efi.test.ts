import { existsSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import type { BootState } from '../../../src/device/bootloaders/bootloader.js';
import { createEfiBootloader } from '../../../src/device/bootloaders/efi.js';
import { parseEfibootmgr } from '../../../src/device/bootloaders/efi-boot-entries.js';
import { InvariantError } from '../../../src/errors.js';
import type { EfiNvram } from '../../support/boot-firmware.js';
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
import { efiEntries, efiFactory, efiRig } from './rigs.js';

const timeoutMs = 10_000;

const dirs = useBootTestDirs('efi');

const device = (format: 'fake' | 'efivarfs', nvram?: EfiNvram) => efiRig(dirs.root, format, nvram);

describe('EFI backend (fake efibootmgr)', () => {
  useToolsOnPath(() => dirs.fakes);

  it.each(sequences)('$name', async ({ steps, boots, efi }) => {
    expect(await play(await device('fake'), steps)).toEqual(efi ?? boots);
  });

  it.each(agentView)('tells the agent the truth when $when', async (view) => {
    await checkAgentView(await device('fake'), view, true);
  });

  it('reports BootNext on a slot as its pending one-boot trial', async () => {
    const { bootloader } = await device('fake');
    expect(await bootloader.state()).toEqual<BootState>({
      order: ['A', 'B'],
      maxTries: 1,
      slots: { A: { ok: true, tries: 0 }, B: { ok: false, tries: 0 } },
    });
    await bootloader.tryOnce('B', 3);
    expect(await bootloader.state()).toEqual<BootState>({
      order: ['B', 'A'],
      maxTries: 1,
      slots: { A: { ok: true, tries: 0 }, B: { ok: true, tries: 0 } },
    });
  });

  it('arms with BootNext only, leaving BootOrder to the old slot', async () => {
    const { store, bootloader } = await device('fake');
    await bootloader.tryOnce('B', 3);
    expect(await store.read()).toMatchObject({ next: efiEntries.B, order: [efiEntries.A, '0000'] });
  });

  it('commits by putting the slot first in BootOrder, keeping the other entries, and clearing BootNext', async () => {
    const rig = await device('fake');
    const { store } = rig;
    await play(rig, ['tryOnce B 3', 'markGood B']);
    const nvram = await store.read();
    expect(nvram.order).toEqual([efiEntries.B, efiEntries.A, '0000']);
    expect(nvram.next).toBeUndefined();
  });

  it('marks a slot bad by taking it out of BootOrder, so the firmware never falls through to it', async () => {
    const rig = await device('fake');
    const { store } = rig;
    await play(rig, ['tryOnce B 3', 'boot', 'markGood B', 'markBad A']);
    expect((await store.read()).order).toEqual([efiEntries.B, '0000']);
    await play(rig, ['tryOnce A 1', 'markBad A']);
    expect((await store.read()).next).toBeUndefined();
  });

  it('does not count an inactive entry as bootable, and activates it to arm or commit it', async () => {
    const nvram = efiFactory();
    nvram.order = [efiEntries.B, efiEntries.A];
    nvram.entries[efiEntries.B] = { label: 'pendulum B', active: false };
    const { store, bootloader } = await device('fake', nvram);
    expect((await bootloader.state()).slots.B.ok).toBe(false);
    await bootloader.markGood('B');
    expect((await store.read()).entries[efiEntries.B]?.active).toBe(true);
    expect((await bootloader.state()).slots.B.ok).toBe(true);
  });

  it('leaves a BootNext that is no slot alone', async () => {
    const { store, bootloader } = await device('fake', { ...efiFactory(), next: '0000' });
    await bootloader.markGood('A');
    await bootloader.markBad('B');
    expect((await store.read()).next).toBe('0000');
    expect((await bootloader.state()).order).toEqual(['A', 'B']);
  });

  it('drops BootOrder entries that no longer exist when it rewrites BootOrder', async () => {
    const rig = await device('fake', { ...efiFactory(), order: [efiEntries.A, '0009'] });
    const { store } = rig;
    await play(rig, ['tryOnce B 1', 'boot', 'markGood B']);
    expect((await store.read()).order).toEqual([efiEntries.B, efiEntries.A]);
  });

  it('names the boot entry it booted from when it is no slot', async () => {
    const { bootloader } = await device('fake', { ...efiFactory(), current: '0000' });
    const error = await bootloaderFailure(bootloader.booted());
    expect(error.message).toBe(
      "efi: booted from boot entry 0000, which is neither slot A's 0001 nor slot B's 0002",
    );
    expect(error.context).toMatchObject({ backend: 'efi', entry: '0000' });
  });

  it('reports a missing BootCurrent', async () => {
    const { bootloader } = await device('fake', { ...efiFactory(), current: undefined });
    const error = await bootloaderFailure(bootloader.booted());
    expect(error.message).toBe('efi: efibootmgr shows no BootCurrent');
  });

  it('refuses to arm or commit a slot whose boot entry does not exist, changing nothing', async () => {
    const nvram = efiFactory();
    delete nvram.entries[efiEntries.B];
    const { store, bootloader } = await device('fake', nvram);
    for (const call of [() => bootloader.tryOnce('B', 1), () => bootloader.markGood('B')]) {
      const error = await bootloaderFailure(call());
      expect(error.message).toBe(
        'efi: boot entry 0002 for slot B does not exist (efibootmgr lists no Boot0002)',
      );
      expect(error.context).toMatchObject({ backend: 'efi', entry: '0002', slot: 'B' });
    }
    expect(await store.read()).toEqual(nvram);
    expect((await bootloader.state()).slots.B.ok).toBe(false);
  });

  it('reports a failing efibootmgr with its exit code and stderr', async () => {
    const { bootloader } = await device('fake');
    await expectToolFailure('efi', 'efibootmgr', () => bootloader.state());
    await expectToolFailure('efi', 'efibootmgr', () => bootloader.booted());
  });

  it('refuses to arm a slot for zero boots', async () => {
    const { bootloader } = await device('fake');
    await expect(bootloader.tryOnce('B', 0)).rejects.toBeInstanceOf(InvariantError);
  });
});

describe('efibootmgr output', () => {
  it('reads verbose output, lower-case hex and the no-BootOrder notice', () => {
    const vars = parseEfibootmgr(
      [
        'BootCurrent: 000a',
        'Timeout: 0 seconds',
        'No BootOrder is set; firmware will attempt recovery',
        'Boot000A* pendulum A\tHD(1,GPT,0f0e…,0x800,0x100000)/File(\\EFI\\BOOT\\BOOTX64.EFI)',
        'Boot000B  pendulum B',
        'MirroredPercentageAbove4G: 0.00',
        '',
      ].join('\n'),
    );
    expect(vars).toEqual({
      current: '000A',
      next: undefined,
      order: [],
      entries: new Map([
        ['000A', { active: true, label: 'pendulum A' }],
        ['000B', { active: false, label: 'pendulum B' }],
      ]),
    });
  });
});

// The real efibootmgr, pointed at efivarfs files in a directory (libefivar's
// LIBEFIVAR_OPS=efivarfs and EFIVARFS_PATH), with the firmware played by the test.
describe.skipIf(!hasCommand('efibootmgr'))('EFI backend with the real efibootmgr', () => {
  useToolsOnPath(() => dirs.real);

  it.each(sequences)('$name', async ({ steps, boots, efi }) => {
    expect(await play(await device('efivarfs'), steps)).toEqual(efi ?? boots);
  });

  it.each(agentView)('tells the agent the truth when $when', async (view) => {
    await checkAgentView(await device('efivarfs'), view, true);
  });

  it('commits and marks bad the way the firmware reads it', async () => {
    const rig = await device('efivarfs');
    const { store } = rig;
    await play(rig, ['tryOnce B 3']);
    expect(await store.read()).toMatchObject({ next: efiEntries.B, order: [efiEntries.A, '0000'] });
    await play(rig, ['boot', 'markGood B', 'markBad A']);
    const nvram = await store.read();
    expect({ next: nvram.next, order: nvram.order }).toEqual({
      next: undefined,
      order: [efiEntries.B, '0000'],
    });
  });

  it.skipIf(existsSync('/sys/firmware/efi/efivars'))(
    'reports a machine without EFI variables as BOOTLOADER_FAILED with efibootmgr exit code and message',
    async () => {
      vi.stubEnv('LIBEFIVAR_OPS', undefined);
      vi.stubEnv('EFIVARFS_PATH', undefined);
      const error = await bootloaderFailure(
        createEfiBootloader({ entries: efiEntries, timeoutMs }).state(),
      );
      expect(error.message).toBe(
        'efi: efibootmgr exited 2: EFI variables are not supported on this system.',
      );
      expect(error.context).toMatchObject({ backend: 'efi', tool: 'efibootmgr', exitCode: 2 });
    },
  );
});
