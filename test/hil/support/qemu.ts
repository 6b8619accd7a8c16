// One power-on of a HIL guest: QEMU under TCG with the guest's serial console
// on stdout, relaunched for every boot (-no-reboot) because warm reboots are
// slow and erratic under TCG. A boot ends when the guest reboots, powers off
// or panics (QEMU exits), or when the test cuts the power (SIGKILL).
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import type { Arch } from './arch.js';

// The address the guest dials; QEMU forwards it to the server on loopback.
export const guestServerAddress = '10.0.2.100:7443';

export interface MachineSpec {
  readonly arch: Arch;
  readonly disk: string;
  // x86_64: the writable copy of OVMF's variable store for this machine.
  readonly efiVars?: string;
  // aarch64: the U-Boot binary QEMU runs as its firmware.
  readonly uboot?: string;
  // The server's loopback port the guest reaches as guestServerAddress.
  readonly serverPort: number;
  // Every console line of every boot is appended here.
  readonly consoleLog: string;
}

export interface PowerOptions {
  // Cut the power as soon as a console line matches.
  readonly cutWhen?: (line: string) => boolean;
  // Or as soon as this resolves true (polled twice a second).
  readonly cutWhenAsync?: () => Promise<boolean>;
  // A boot running longer than this is a failed test.
  readonly timeoutMs: number;
  // The board's watchdog: a boot whose init has not started the agent this
  // long after power-on, or whose init says it is stuck, is reset (default
  // 150 s; boot to init takes 6-9 s). Only init is covered: once the agent
  // runs, a hang is the test's to catch.
  readonly watchdogMs?: number;
}

// The line init prints as it starts the agent, and the one its own watchdog
// prints when it has not (qemu/guest/init).
const agentStartLine = 'PENDULUM-HIL init: disks and network up; starting the agent';
const initStuckLine = 'PENDULUM-HIL init stuck';
export const defaultWatchdogMs = 150_000;

export interface BootOutcome {
  readonly lines: readonly string[];
  // From the guest's "PENDULUM-HIL booted slot=… version=…" line; undefined
  // when the kernel never reached init.
  readonly slot: 'A' | 'B' | undefined;
  readonly version: string | undefined;
  // 'watchdog-reset': init hung before the agent started (see watchdogMs).
  readonly ended: 'exited' | 'power-cut' | 'watchdog-reset';
  readonly ms: number;
}

function qemuArgs(spec: MachineSpec): { command: string; args: string[] } {
  const netdev = `user,id=n0,restrict=on,guestfwd=tcp:${guestServerAddress}-cmd:socat - TCP:127.0.0.1:${spec.serverPort}`;
  const common = [
    '-accel',
    'tcg',
    '-m',
    '1024',
    '-smp',
    '1',
    '-nodefaults',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-monitor',
    'none',
    '-no-reboot',
    '-netdev',
    netdev,
    '-device',
    'virtio-net-pci,netdev=n0',
    // Entropy from the host (see qemu/guest/init).
    '-device',
    'virtio-rng-pci',
  ];
  if (spec.arch === 'x86_64') {
    if (spec.efiVars === undefined)
      throw new Error('an x86_64 machine needs its OVMF variable store');
    return {
      command: 'qemu-system-x86_64',
      args: [
        ...common,
        '-machine',
        'q35',
        '-drive',
        'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
        '-drive',
        `if=pflash,format=raw,unit=1,file=${spec.efiVars}`,
        '-drive',
        `file=${spec.disk},if=none,id=d0,format=raw`,
        // virtio-blk, not NVMe: QEMU 7.2's NVMe under TCG lost I/O completions
        // during boot in CI (see qemu/x86_64/initramfs-init).
        '-device',
        'virtio-blk-pci,drive=d0,serial=pendulum0',
      ],
    };
  }
  if (spec.uboot === undefined) throw new Error('an aarch64 machine needs its U-Boot binary');
  return {
    command: 'qemu-system-aarch64',
    args: [
      ...common,
      '-machine',
      'virt',
      '-cpu',
      'cortex-a57',
      '-bios',
      spec.uboot,
      // NVMe: built into the arm64 kernel, so no initramfs; U-Boot boots from it too.
      '-drive',
      `file=${spec.disk},if=none,id=d0,format=raw`,
      '-device',
      'nvme,drive=d0,serial=pendulum0',
    ],
  };
}

// Console noise: carriage returns and terminal escape sequences from firmware.
const esc = String.fromCharCode(0x1b);
const noise = new RegExp(`\r|${esc}\\[[0-9;?=]*[a-zA-Z]|${esc}[=>]`, 'g');

// powerOn boots the machine once and returns what its console printed.
export async function powerOn(spec: MachineSpec, options: PowerOptions): Promise<BootOutcome> {
  const { command, args } = qemuArgs(spec);
  const started = Date.now();
  const log = createWriteStream(spec.consoleLog, { flags: 'a' });
  log.write(`\n===== power on ${new Date().toISOString()} =====\n`);
  const qemu = execa(command, args, {
    stdin: 'ignore',
    stderr: 'pipe',
    reject: false,
    buffer: false,
  });
  const lines: string[] = [];
  let cut = false;
  const cutPower = () => {
    if (cut) return;
    cut = true;
    log.write('===== power cut =====\n');
    qemu.kill('SIGKILL');
  };
  let stderr = '';
  qemu.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const reader = createInterface({ input: qemu.stdout as NodeJS.ReadableStream });
  const readerClosed = new Promise<void>((resolve) => reader.once('close', () => resolve()));
  let agentStarted = false;
  let watchdogFired = false;
  const watchdogReset = (why: string) => {
    if (cut || agentStarted) return;
    watchdogFired = true;
    log.write(`===== watchdog reset: ${why} =====\n`);
    cutPower();
  };
  const watchdog = setTimeout(
    () => watchdogReset('init did not start the agent in time'),
    options.watchdogMs ?? defaultWatchdogMs,
  );
  reader.on('line', (raw) => {
    const line = raw.replace(noise, '');
    if (line.trim() === '') return;
    lines.push(line);
    log.write(`${line}\n`);
    if (line.includes(agentStartLine)) agentStarted = true;
    // Give the guest a moment to print the blocked tasks it dumps next.
    if (line.includes(initStuckLine)) setTimeout(() => watchdogReset(line), 3000).unref();
    if (options.cutWhen?.(line)) cutPower();
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    cutPower();
  }, options.timeoutMs);
  let polling = options.cutWhenAsync !== undefined;
  let pollError: unknown;
  const poll = async () => {
    while (polling && !cut) {
      try {
        if (await options.cutWhenAsync?.()) cutPower();
      } catch (error) {
        // The machine is stopped and the error thrown once QEMU is gone.
        pollError = error;
        cutPower();
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };
  const polled = poll();
  const result = await qemu;
  polling = false;
  clearTimeout(timer);
  clearTimeout(watchdog);
  await polled;
  await readerClosed;
  await new Promise<void>((resolve) => log.end(() => resolve()));
  if (pollError !== undefined) throw pollError;
  if (timedOut) {
    throw new Error(
      `${spec.arch} boot did not end within ${options.timeoutMs} ms; last console lines:\n${lines.slice(-40).join('\n')}`,
    );
  }
  if (!cut && result.exitCode !== 0) {
    throw new Error(`${command} failed (exit ${result.exitCode}): ${stderr.trim()}`);
  }
  const booted = lines
    .map((l) => /PENDULUM-HIL booted slot=([AB]) version=(\S+)/.exec(l))
    .find((m) => m !== null);
  return {
    lines,
    slot: booted?.[1] as 'A' | 'B' | undefined,
    version: booted?.[2],
    ended: watchdogFired ? 'watchdog-reset' : cut ? 'power-cut' : 'exited',
    ms: Date.now() - started,
  };
}
