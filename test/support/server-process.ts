// `pendulum server` as a child process of its own, as a replica runs: the
// compiled CLI with a server.toml, everything it prints kept in a log file.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { stringify } from 'smol-toml';
import { distCli } from './device.js';
import { pause } from './until.js';

const run = promisify(execFile);

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  // host:port it listens on, as it printed it.
  readonly address: string;
  readonly logFile: string;
  // Printed on a first start only (an empty database).
  readonly adminToken: string | undefined;
  // freeze stops it (SIGSTOP) without closing anything: its connections stay
  // open and calls on them hang, as on a replica stuck in a long pause.
  freeze(): void;
  // kill ends it at once with SIGKILL, as a crash or an OOM kill would.
  kill(): Promise<void>;
  // stop asks it to shut down (SIGTERM), and kills it if it has not in 5 s.
  stop(): Promise<void>;
}

// writeServerConfig writes a server.toml with these fields.
export async function writeServerConfig(
  file: string,
  fields: Record<string, unknown>,
): Promise<void> {
  await writeFile(file, stringify(fields));
}

// createApiToken makes an API token in the server's database with the CLI,
// as an operator does on the server host, and returns it.
export async function createApiToken(
  database: string,
  name: string,
  role: 'viewer' | 'publisher' | 'admin',
): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [distCli, 'token', 'create', '--database', database, '--name', name, '--role', role],
    { timeout: 60_000 },
  );
  return stdout.trim();
}

// startServerProcess starts `pendulum server --config configFile` and waits
// until it listens.
export async function startServerProcess(options: {
  readonly name: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly timeoutMs?: number;
}): Promise<ServerProcess> {
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(process.execPath, [distCli, 'server', '--config', options.configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(String(code ?? signal))),
  );
  let stdout = '';
  child.stdout?.on('data', (data: Buffer) => {
    stdout += data.toString();
    log.write(data);
  });
  child.stderr?.on('data', (data: Buffer) => log.write(data));
  const readLog = () => readFile(options.logFile, 'utf8').catch(() => '');
  const listening = () => /^pendulum server listening on (\S+)/m.exec(stdout)?.[1];
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (listening() === undefined) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const code = await exited;
      await new Promise((resolve) => log.end(resolve));
      throw new Error(
        `server ${options.name} did not start (exit ${code}); its log:\n${await readLog()}`,
      );
    }
    await pause(50);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`server ${options.name} has no pid`);
  const ended = async () => {
    await exited;
    await new Promise((resolve) => log.end(resolve));
  };
  return {
    name: options.name,
    pid,
    address: listening() ?? '',
    logFile: options.logFile,
    adminToken: /^admin token \(shown once, keep it safe\): (\S+)/m.exec(stdout)?.[1],
    freeze() {
      if (!gone(child)) child.kill('SIGSTOP');
    },
    async kill() {
      if (!gone(child)) child.kill('SIGKILL');
      await ended();
    },
    async stop() {
      if (!gone(child)) {
        child.kill('SIGTERM');
        const stopped = await Promise.race([exited.then(() => true), pause(5000)]);
        if (stopped !== true) child.kill('SIGKILL');
      }
      await ended();
    },
  };
}

function gone(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}
