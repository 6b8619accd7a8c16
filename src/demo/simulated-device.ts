// A simulated device for the demo and the integration tests: two slot files
// (or any block devices), a simulated bootloader, an agent.toml, and the real
// `pendulum agent` run as a child process. `boot()` plays the power-on that a
// real reboot would be.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AgentState, parseAgentState } from '../device/agent-state.js';
import { initSimulatedBootloader, simulateBoot } from '../device/bootloaders/simulated.js';
import type { SlotName } from '../device/slots/slot.js';

// The compiled CLI next to this file: dist/cli/main.js.
export const cliPath = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface DeviceSetup {
  readonly dir: string;
  readonly serverAddress: string;
  readonly classId: string;
  readonly trustRootFile: string;
  // Slot storage: files (created here) or existing block devices.
  readonly slots: { readonly A: string; readonly B: string };
  readonly factoryVersion: string;
  readonly factorySequence: number;
  // [name, argv] pairs run on the trial boot.
  readonly healthChecks: readonly { name: string; command: readonly string[]; timeout?: string }[];
  // How often the idle agent reruns them after a commit (default: the agent's).
  readonly periodicHealthEvery?: string;
  readonly maxTries?: number;
  // The device key made at the factory (default: the agent makes one in its state directory).
  readonly key?: string;
  // The compiled CLI to run (default: the one beside this file).
  readonly cli?: string;
  // Keep a Watch stream open while idle (the agent's default); false: poll only.
  readonly watch?: boolean;
}

export interface AgentRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  // How the agent finished its --once run: nothing left to do, a reboot
  // asked for, or installed and waiting for a maintenance window.
  readonly result: 'idle' | 'reboot' | 'waiting' | undefined;
}

export interface SimulatedDevice {
  readonly dir: string;
  readonly configPath: string;
  readonly envPath: string;
  readonly cmdlinePath: string;
  readonly journalPath: string;
  // runAgent runs `pendulum agent --once`; `failpoints` kill it at named checkpoints.
  runAgent(options?: { failpoints?: readonly string[] }): Promise<AgentRun>;
  // boot is a power-on or reboot: the bootloader picks a slot.
  boot(): Promise<SlotName>;
  journal(): Promise<AgentState>;
  // settle runs the agent, rebooting when it asks, until it is idle (or
  // installed and waiting for its maintenance window).
  settle(onStep?: (line: string) => void): Promise<void>;
}

// createSimulatedDevice writes the device's config and a factory-fresh bootloader (slot A booted).
export async function createSimulatedDevice(setup: DeviceSetup): Promise<SimulatedDevice> {
  await mkdir(setup.dir, { recursive: true });
  const envPath = join(setup.dir, 'grubenv');
  const cmdlinePath = join(setup.dir, 'cmdline');
  const stateDir = join(setup.dir, 'state');
  const configPath = join(setup.dir, 'agent.toml');
  await initSimulatedBootloader({
    envPath,
    cmdlinePath,
    booted: 'A',
    maxTries: setup.maxTries ?? 3,
  });
  const q = JSON.stringify;
  const checks = setup.healthChecks
    .map(
      (c) =>
        `[[health.checks]]\nname = ${q(c.name)}\ncommand = ${q(c.command)}\ntimeout = ${q(c.timeout ?? '30s')}\n`,
    )
    .join('\n');
  await writeFile(
    configPath,
    `[server]
address = ${q(setup.serverAddress)}${setup.watch === false ? '\nwatch = false' : ''}

[device]
class_id = ${q(setup.classId)}
state_dir = ${q(stateDir)}
trust_root = ${q(setup.trustRootFile)}
factory_version = ${q(setup.factoryVersion)}
factory_sequence = ${setup.factorySequence}${setup.key === undefined ? '' : `\nkey = ${q(setup.key)}`}

[slots.A]
type = "raw"
device = ${q(setup.slots.A)}

[slots.B]
type = "raw"
device = ${q(setup.slots.B)}

[bootloader]
type = "simulated"
env = ${q(envPath)}
cmdline = ${q(cmdlinePath)}

[download]
sync_every = "1MiB"

[reboot]
command = ["true"]
${setup.periodicHealthEvery === undefined ? '' : `\n[health]\nperiodic_every = ${q(setup.periodicHealthEvery)}\n`}
${checks}`,
  );
  const journalPath = join(stateDir, 'journal.json');
  const device: SimulatedDevice = {
    dir: setup.dir,
    configPath,
    envPath,
    cmdlinePath,
    journalPath,
    runAgent: (options) =>
      runCli(
        setup.cli ?? cliPath,
        ['agent', '--config', configPath, '--once'],
        options?.failpoints ?? [],
      ),
    boot: () => simulateBoot({ envPath, cmdlinePath }),
    journal: async () => parseAgentState(JSON.parse(await readFile(journalPath, 'utf8'))),
    async settle(onStep) {
      for (let runs = 0; runs < 20; runs++) {
        const run = await device.runAgent();
        if (run.code !== 0)
          throw new Error(
            `agent exited ${run.code ?? run.signal}: ${run.stderr.trim() || run.stdout.trim()}`,
          );
        // Idle, or waiting for a window no reboot will open.
        if (run.result === 'idle' || run.result === 'waiting') return;
        onStep?.('device reboots');
        const slot = await device.boot();
        onStep?.(`device booted slot ${slot}`);
      }
      throw new Error('the agent did not settle within 20 runs');
    },
  };
  return device;
}

// runCli runs the compiled `pendulum` CLI with PENDULUM_FAILPOINTS set as asked.
function runCli(
  cli: string,
  args: readonly string[],
  failpoints: readonly string[],
): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, PENDULUM_FAILPOINTS: failpoints.join(',') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
    });
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const match = /^agent: (idle|reboot|waiting)$/m.exec(stdout);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        result: match?.[1] as AgentRun['result'],
      });
    });
  });
}
