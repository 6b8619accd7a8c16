// Runs flooder.mjs, a flood of unauthenticated calls from a process of its own.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const flooder = fileURLToPath(new URL('./flooder.mjs', import.meta.url));

export interface FloodResult {
  readonly sent: number;
  // Calls that carried a token shaped like a device token, made up.
  readonly forged: number;
  // Response messages received over all calls.
  readonly messages: number;
  // How many calls ended with each gRPC status code.
  readonly codes: Readonly<Record<string, number>>;
  readonly ms: number;
  readonly maxRssBytes: number;
}

export interface FloodOptions {
  readonly address: string;
  readonly connections: number;
  readonly inFlightPerConnection: number;
  // Calls to send at least, however early stop() comes.
  readonly minimum: number;
  // Request bytes for Download and CheckIn.
  readonly download: Uint8Array;
  readonly checkIn: Uint8Array;
}

export interface Flood {
  // stop lets the flood end once it has sent its minimum; then it reports.
  stop(): Promise<FloodResult>;
  kill(): void;
}

// startFlood starts the flooder and resolves once its first calls are out.
export async function startFlood(options: FloodOptions): Promise<Flood> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      flooder,
      options.address,
      String(options.connections),
      String(options.inFlightPerConnection),
      String(options.minimum),
      Buffer.from(options.download).toString('hex'),
      Buffer.from(options.checkIn).toString('hex'),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const flooding = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', () => {
      if (stdout.startsWith('flooding\n')) resolve();
    });
    void exited.then((code) => reject(new Error(`flooder exited ${code}: ${stderr}`)));
  });
  await flooding;
  return {
    async stop() {
      child.stdin?.write('stop\n');
      const code = await exited;
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0) throw new Error(`flooder exited ${code}: ${stderr}`);
      return JSON.parse(last) as FloodResult;
    },
    kill: () => child.kill('SIGKILL'),
  };
}
