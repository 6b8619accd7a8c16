// One HIL device: its own disk (built from the factory image), its data
// partition with agent.toml and the trust root, and a power button.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Fleet } from '../../support/fleet.js';
import type { Arch } from './arch.js';
import { type Artifacts, imageVersions, repoRoot } from './artifacts.js';
import { type BootOutcome, guestServerAddress, type PowerOptions, powerOn } from './qemu.js';

// Boots a slot gets before the bootloader falls back, at the factory.
export const factoryMaxTries = 3;

// Watchdog resets in a row that one power-on tolerates before failing.
const maxWatchdogResets = 2;

export interface Guest {
  readonly disk: string;
  readonly consoleLog: string;
  readonly boots: BootOutcome[];
  // Boots the board's watchdog reset because init hung before the agent
  // started (an emulator stall, not the agent); not in `boots`.
  readonly watchdogResets: BootOutcome[];
  // powerOn boots once (after up to `maxWatchdogResets` watchdog resets); the
  // outcome is also kept in `boots`.
  powerOn(options: PowerOptions): Promise<BootOutcome>;
  // bootEnv reads the bootloader's variables off the disk, as the firmware would.
  bootEnv(): Promise<Map<string, string>>;
  // tearBootEnv flips a byte inside U-Boot's uboot.env, as a power cut in
  // the middle of its write would leave it (aarch64 only).
  tearBootEnv(): Promise<void>;
}

const bootloaderConfig: Record<Arch, string> = {
  x86_64: '[bootloader]\ntype = "grub"\nenv = "/boot/efi/EFI/BOOT/grubenv"\n',
  aarch64: '[bootloader]\ntype = "u-boot"\nconfig = "/data/fw_env.config"\n',
};

const slotDevices: Record<Arch, { A: string; B: string }> = {
  x86_64: { A: '/dev/vda2', B: '/dev/vda3' },
  aarch64: { A: '/dev/nvme0n1p2', B: '/dev/nvme0n1p3' },
};

// agentToml is the device's configuration: short poll and backoff so a
// scenario does not wait minutes, everything else as a real device has it.
function agentToml(arch: Arch, classId: string): string {
  const slots = slotDevices[arch];
  return `log_level = "info"

[server]
address = "${guestServerAddress}"
pinned_cert = "/data/server.crt"
call_timeout = "30s"

[device]
class_id = "${classId}"
state_dir = "/data/pendulum"
trust_root = "/data/root.json"
factory_version = "${imageVersions.factory}"
factory_sequence = 1

[slots.A]
type = "raw"
device = "${slots.A}"

[slots.B]
type = "raw"
device = "${slots.B}"

${bootloaderConfig[arch]}
[poll]
interval = "2s"
jitter = 0
backoff_min = "1s"
backoff_max = "4s"

[download]
sync_every = "8MiB"
progress_every = "1s"
idle_timeout = "60s"

[reboot]
command = ["/sbin/pendulum-reboot"]
grace = "60s"

[health]
checks = [{ name = "image", command = ["/usr/lib/pendulum/health"], timeout = "60s" }]
`;
}

// Room in each slot for the largest image the scenarios install.
const slotMiB = 192;

const buildDisk = (arch: Arch) => join(repoRoot, 'qemu', arch, 'build-disk.sh');

async function run(command: string, args: readonly string[]): Promise<string> {
  const result = await execa(command, args, { cwd: repoRoot, reject: false, all: true });
  if (result.exitCode !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (exit ${result.exitCode}):\n${result.all}`,
    );
  }
  return result.stdout;
}

// makeGuest builds a factory-fresh device in `dir` that talks to `fleet`.
export async function makeGuest(options: {
  readonly artifacts: Artifacts;
  readonly fleet: Fleet;
  // The server's certificate, which the device pins.
  readonly serverCert: string;
  readonly dir: string;
  readonly classId: string;
}): Promise<Guest> {
  const { artifacts, fleet, dir } = options;
  const { arch } = artifacts;
  const staging = join(dir, 'data');
  await mkdir(join(staging, 'pendulum'), { recursive: true });
  await writeFile(join(staging, 'agent.toml'), agentToml(arch, options.classId));
  await copyFile(fleet.trustRootFile, join(staging, 'root.json'));
  await copyFile(options.serverCert, join(staging, 'server.crt'));
  if (arch === 'aarch64') {
    await writeFile(join(staging, 'fw_env.config'), '/boot/efi/uboot.env 0x0 0x4000\n');
  }
  const dataImage = join(dir, 'data.img');
  await run('mkfs.ext4', ['-q', '-F', '-L', 'data', '-d', staging, dataImage, '32M']);
  const disk = join(dir, 'disk.img');
  const images = ['--rootfs-a', artifacts.images.factory, '--data', dataImage, '--out', disk];
  const slotSize = ['--slot-size', String(slotMiB)];
  await run(
    'bash',
    arch === 'x86_64'
      ? [
          buildDisk(arch),
          ...images,
          ...slotSize,
          '--fetched',
          artifacts.fetched,
          '--max-try',
          String(factoryMaxTries),
        ]
      : [
          buildDisk(arch),
          ...images,
          ...slotSize,
          '--env-max-try',
          String(factoryMaxTries),
          '--env-a-left',
          String(factoryMaxTries),
        ],
  );
  let efiVars: string | undefined;
  if (arch === 'x86_64') {
    efiVars = join(dir, 'efi-vars.fd');
    await copyFile('/usr/share/OVMF/OVMF_VARS_4M.fd', efiVars);
  }
  const consoleLog = join(dir, 'console.log');
  const port = Number(fleet.address.split(':').at(-1));
  const boots: BootOutcome[] = [];
  const watchdogResets: BootOutcome[] = [];
  return {
    disk,
    consoleLog,
    boots,
    watchdogResets,
    async powerOn(power) {
      for (let resets = 0; ; resets++) {
        const outcome = await powerOn(
          {
            arch,
            disk,
            efiVars,
            uboot: join(artifacts.fetched, 'u-boot.bin'),
            serverPort: port,
            consoleLog,
          },
          power,
        );
        if (outcome.ended !== 'watchdog-reset') {
          boots.push(outcome);
          return outcome;
        }
        watchdogResets.push(outcome);
        console.log(
          `HIL ${arch}: init hung before starting the agent; the watchdog reset the board (last lines: ${outcome.lines.slice(-3).join(' | ')})`,
        );
        if (resets + 1 >= maxWatchdogResets)
          throw new Error(
            `${arch} init hung ${maxWatchdogResets} times in a row before starting the agent; see the console log`,
          );
      }
    },
    async tearBootEnv() {
      if (arch !== 'aarch64') throw new Error('only the U-Boot disk keeps uboot.env');
      const image = `${disk}@@1M`;
      const copy = join(dir, 'uboot.env.torn');
      await run('mcopy', ['-o', '-i', image, '::/uboot.env', copy]);
      const bytes = await readFile(copy);
      // Past the CRC, inside the variables: the CRC no longer matches.
      bytes[8] = (bytes[8] ?? 0) ^ 0xff;
      await writeFile(copy, bytes);
      await run('mcopy', ['-o', '-i', image, copy, '::/uboot.env']);
    },
    async bootEnv() {
      // Partition 1 starts at 1 MiB on both architectures' disks.
      const image = `${disk}@@1M`;
      const text =
        arch === 'x86_64'
          ? await run('mtype', ['-i', image, '::/EFI/BOOT/grubenv'])
          : await run('fw_printenv', ['-c', await ubootEnvConfig(dir, image)]);
      const vars = new Map<string, string>();
      for (const line of text.split('\n')) {
        const at = line.indexOf('=');
        if (at > 0 && !line.startsWith('#')) vars.set(line.slice(0, at), line.slice(at + 1));
      }
      return vars;
    },
  };
}

// ubootEnvConfig copies the U-Boot environment file off the disk's boot
// partition and returns a fw_env.config that describes the copy.
async function ubootEnvConfig(dir: string, image: string): Promise<string> {
  const copy = join(dir, 'uboot.env');
  await run('mcopy', ['-o', '-i', image, '::/uboot.env', copy]);
  const config = join(dir, 'fw_env.host.config');
  await writeFile(config, `${copy} 0x0 0x4000\n`);
  return config;
}
