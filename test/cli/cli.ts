// Running the real `pendulum` command (dist/, built by global-setup.ts) as a
// child process, the way a person or a CI job runs it.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const distCli = resolve('dist/cli/main.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// cliEnv is the test's environment without the variables the CLI reads, so a
// developer's shell cannot change what a test sees.
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['PENDULUM_TOKEN', 'PENDULUM_SERVER', 'PENDULUM_CA']) delete env[name];
  return { ...env, ...extra };
}

// runCli runs one command to completion and collects its output.
export async function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [distCli, ...args], {
    env: cliEnv(options.env),
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

// runOk runs a command that must succeed and returns its stdout.
export async function runOk(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<string> {
  const result = await runCli(args, options);
  if (result.code !== 0) {
    throw new Error(
      `pendulum ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return result.stdout;
}

export interface CliServer {
  readonly address: string;
  // Printed on the first start of a data directory only.
  readonly adminToken: string | undefined;
  // Every stdout line up to and including "listening on".
  readonly banner: readonly string[];
  // stop sends SIGTERM and waits for the process to exit.
  stop(): Promise<number | null>;
}

// startCliServer runs `pendulum server` and waits until it says where it listens.
export async function startCliServer(
  dataDir: string,
  extraArgs: readonly string[] = [],
): Promise<CliServer> {
  const child = spawn(
    process.execPath,
    [
      distCli,
      'server',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--admission',
      'accept',
      ...extraArgs,
    ],
    { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const banner: string[] = [];
  const lines = createInterface({ input: child.stdout });
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('server did not say it was listening')), 15_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      kill(child);
      reject(error);
    };
    lines.on('line', (line) => {
      banner.push(line);
      const listening = /listening on (\S+)/.exec(line);
      if (listening?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(listening[1]);
      }
    });
    void exited.then(([code]) => fail(new Error(`server exited ${code}: ${stderr}`)));
  });
  const tokenLine = banner.find((line) => line.startsWith('admin token'));
  return {
    address,
    adminToken: tokenLine?.slice(tokenLine.lastIndexOf(':') + 1).trim(),
    banner,
    async stop() {
      kill(child);
      const [code] = await exited;
      lines.close();
      return code;
    },
  };
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
