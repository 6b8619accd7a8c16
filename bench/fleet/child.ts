// A benchmark server in its own process, pinned to one core with taskset, so
// that "one server core" is literal; the parent samples its CPU time and RSS
// from /proc.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface PinnedChild<R> {
  readonly pid: number;
  // What the child printed as its first stdout line (JSON).
  readonly ready: R;
  // request writes a line to the child's stdin and resolves with its next stdout line.
  request(line: string): Promise<string>;
  // CPU seconds (user + system) the child has used so far.
  cpuSeconds(): number;
  // Resident set size now, in bytes (VmRSS).
  rssBytes(): number;
  // SIGTERM, then wait for exit (the child closes its server and exits 0).
  stop(): Promise<void>;
}

// How node runs on one pinned core, as the README advises for a server given
// one core: V8 collects on the main thread instead of in helper threads that
// would share the core with the event loop and take it from under it in
// scheduler slices (a full collection then stalled the server 60-100 ms,
// against 35-55 ms like this). The capacity and latency figures run the
// server, the echo and the load generator (package.json) this way.
export const oneCoreNodeFlags = ['--single-threaded-gc'] as const;

// Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on every Linux we run).
const clockTicks = 100;

// spawnPinned runs `node [flags] script args` on `core` and waits for its ready line.
export async function spawnPinned<R>(
  script: string,
  args: readonly string[],
  options: { core: number; nodeFlags?: readonly string[]; timeoutMs?: number },
): Promise<PinnedChild<R>> {
  const child = spawn(
    'taskset',
    ['-c', String(options.core), process.execPath, ...(options.nodeFlags ?? []), script, ...args],
    // The child exits when its stdin closes, so a parent that dies leaves no server behind.
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  let timer: NodeJS.Timeout | undefined;
  const died = exited.then((code) => {
    throw new Error(`${script} exited ${code} before it was ready`);
  });
  // Once ready, its exit is stop()'s business.
  died.catch(() => undefined);
  const ready = await Promise.race([
    next(),
    died,
    new Promise<never>((_, reject) => {
      const ms = options.timeoutMs ?? 120_000;
      timer = setTimeout(() => reject(new Error(`${script} not ready in ${ms} ms`)), ms);
    }),
  ])
    .catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    })
    .finally(() => clearTimeout(timer));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${script}: no pid`);
  return {
    pid,
    ready: JSON.parse(ready) as R,
    request(line) {
      const reply = next();
      child.stdin?.write(`${line}\n`);
      return reply;
    },
    cpuSeconds: () => cpuSecondsOf(pid),
    rssBytes: () => rssOf(pid),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0 && code !== null) throw new Error(`${script} exited ${code}`);
    },
  };
}

// cpuSecondsOf reads utime + stime of every thread of `pid`.
export function cpuSecondsOf(pid: number): number {
  const { user, system } = cpuSplitOf(pid);
  return user + system;
}

// cpuSplitOf reads utime and stime of every thread of `pid`, in seconds.
export function cpuSplitOf(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / clockTicks, system: Number(fields[12]) / clockTicks };
}

// rssOf reads VmRSS of `pid` in bytes.
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match === null ? 0 : Number(match[1]) * 1024;
}

// pinSelf moves every thread of this process to `cores` (e.g. "1" or "0-1").
export function pinSelf(cores: string): void {
  const result = spawnSync('taskset', ['-a', '-cp', cores, String(process.pid)], {
    stdio: 'ignore',
  });
  if (result.status !== 0) throw new Error(`taskset -a -cp ${cores} failed (${result.status})`);
}
