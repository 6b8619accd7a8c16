// A simulated device for integration tests: slot files (or loop devices), the
// factory image in slot A, and the real agent run as a child process (--once,
// or until stopped).
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  createSimulatedDevice,
  type DeviceSetup,
  type SimulatedDevice,
} from '../../src/demo/simulated-device.js';
import type { BootState } from '../../src/device/bootloaders/bootloader.js';
import { createSimulatedBootloader } from '../../src/device/bootloaders/simulated.js';
import { type Fleet, testClass } from './fleet.js';
import { imageSelfTest, makeImage, sha256Hex } from './images.js';

// Tests run the CLI that global-setup.ts compiled.
export const distCli = resolve('dist/cli/main.js');
export const slotBytes = 8 * 1024 * 1024;
export const factoryImage = makeImage('1.0.0');

export interface TestDevice extends SimulatedDevice {
  readonly slots: { readonly A: string; readonly B: string };
  bootState(): Promise<BootState>;
  booted(): Promise<'A' | 'B'>;
  // The raw bytes of the bootloader environment, to prove it was not touched.
  envBytes(): Promise<Buffer>;
  slotDigest(slot: 'A' | 'B', length: number): Promise<string>;
  deviceId(): Promise<string>;
}

// makeDevice creates a device whose slots are plain files unless `slots` names
// block devices; its agent talks to `fleet.address`.
export async function makeDevice(
  dir: string,
  fleet: Pick<Fleet, 'address' | 'trustRootFile'>,
  options: {
    slots?: { A: string; B: string };
    maxTries?: number;
    healthChecks?: DeviceSetup['healthChecks'];
    periodicHealthEvery?: string;
    classId?: string;
    // false: the agent polls only, with no Watch stream.
    watch?: boolean;
    // Serve the agent from this address rather than the fleet's (another replica).
    serverAddress?: string;
  } = {},
): Promise<TestDevice> {
  await mkdir(dir, { recursive: true });
  const slots = options.slots ?? { A: join(dir, 'slot-a.img'), B: join(dir, 'slot-b.img') };
  if (options.slots === undefined) {
    await writeFile(slots.A, Buffer.alloc(slotBytes));
    await writeFile(slots.B, Buffer.alloc(slotBytes));
  }
  const slotA = Buffer.alloc(slotBytes);
  factoryImage.copy(slotA);
  await writeFile(slots.A, slotA);
  const device = await createSimulatedDevice({
    dir,
    serverAddress: options.serverAddress ?? fleet.address,
    classId: options.classId ?? testClass,
    trustRootFile: fleet.trustRootFile,
    slots,
    factoryVersion: '1.0.0',
    factorySequence: 1,
    healthChecks: options.healthChecks ?? [imageSelfTest],
    ...(options.periodicHealthEvery === undefined
      ? {}
      : { periodicHealthEvery: options.periodicHealthEvery }),
    maxTries: options.maxTries ?? 3,
    cli: distCli,
    ...(options.watch === undefined ? {} : { watch: options.watch }),
  });
  const bootloader = createSimulatedBootloader({
    envPath: device.envPath,
    cmdlinePath: device.cmdlinePath,
  });
  return {
    ...device,
    slots,
    bootState: () => bootloader.state(),
    booted: () => bootloader.booted(),
    envBytes: () => readFile(device.envPath),
    async slotDigest(slot, length) {
      const handle = await readFile(slots[slot]);
      return sha256Hex(handle.subarray(0, length));
    },
    async deviceId() {
      const key = JSON.parse(await readFile(join(dir, 'state', 'device.key'), 'utf8')) as {
        key_id: string;
      };
      return key.key_id;
    },
  };
}

export interface RunningAgent {
  // Everything the agent logged so far (JSON lines).
  readonly stderr: () => string;
  // stop sends SIGTERM and waits for the agent to exit (SIGKILL after 10 s).
  stop(): Promise<number | null>;
}

// startAgent runs `pendulum agent` (not --once) for `device` until stopped.
export function startAgent(device: TestDevice): RunningAgent {
  const child = spawn(process.execPath, [distCli, 'agent', '--config', device.configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(kill);
      }
    },
  };
}
