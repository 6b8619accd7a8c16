// What the HIL suite needs from the host, each with the Debian package that
// provides it, checked before anything is built so that a missing one is one
// clear message instead of a failure deep inside a script.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Arch } from './arch.js';

interface Prerequisite {
  readonly what: string;
  readonly package: string;
  readonly present: (path: string) => boolean;
}

const command = (name: string) => (path: string) => {
  try {
    execFileSync('/bin/sh', ['-c', `command -v ${name}`], { stdio: 'ignore', env: { PATH: path } });
    return true;
  } catch {
    return false;
  }
};
const file = (path: string) => () => existsSync(path);

const common: Prerequisite[] = [
  { what: 'sgdisk', package: 'gdisk', present: command('sgdisk') },
  { what: 'mkfs.vfat', package: 'dosfstools', present: command('mkfs.vfat') },
  { what: 'mcopy', package: 'mtools', present: command('mcopy') },
  { what: 'mkfs.ext4', package: 'e2fsprogs', present: command('mkfs.ext4') },
  { what: 'busybox', package: 'busybox-static', present: file('/bin/busybox') },
  { what: 'socat', package: 'socat', present: command('socat') },
  { what: 'apt-get download', package: 'apt', present: command('apt-get') },
];

const byArch: Record<Arch, Prerequisite[]> = {
  x86_64: [
    {
      what: 'qemu-system-x86_64',
      package: 'qemu-system-x86',
      present: command('qemu-system-x86_64'),
    },
    { what: 'OVMF firmware', package: 'ovmf', present: file('/usr/share/OVMF/OVMF_CODE_4M.fd') },
    { what: 'grub-mkimage', package: 'grub-common', present: command('grub-mkimage') },
    { what: 'grub-editenv', package: 'grub-common', present: command('grub-editenv') },
    {
      what: 'GRUB EFI modules',
      package: 'grub-efi-amd64-bin',
      present: file('/usr/lib/grub/x86_64-efi/linux.mod'),
    },
  ],
  aarch64: [
    {
      what: 'qemu-system-aarch64',
      package: 'qemu-system-arm',
      present: command('qemu-system-aarch64'),
    },
    {
      what: 'U-Boot for QEMU',
      package: 'u-boot-qemu',
      present: file('/usr/lib/u-boot/qemu_arm64/u-boot.bin'),
    },
    { what: 'mkimage', package: 'u-boot-tools', present: command('mkimage') },
    { what: 'fw_setenv', package: 'libubootenv-tool', present: command('fw_setenv') },
  ],
};

// missingPrerequisites lists what is missing for `arch`, naming each
// package; commands are looked up on `path`.
export function missingPrerequisites(arch: Arch, path = process.env.PATH ?? ''): string[] {
  return [...common, ...byArch[arch]]
    .filter((p) => !p.present(path))
    .map((p) => `${p.what} (Debian package ${p.package})`);
}

// requirePrerequisites throws one message naming every missing package.
export function requirePrerequisites(arch: Arch): void {
  const missing = missingPrerequisites(arch);
  if (missing.length > 0) {
    throw new Error(
      `the ${arch} HIL suite cannot run; missing: ${missing.join(', ')}. Run scripts/install-hil-deps.sh.`,
    );
  }
}
