// The one place the agent runs external programs: no shell, an explicit
// timeout, a cancel signal, bounded output, and failures as TOOL_FAILED.
import { stat } from 'node:fs/promises';
import { execa } from 'execa';
import { invariant, PendulumError } from '../errors.js';

// Output a tool may print (stdout and stderr each) before it is stopped.
export const defaultMaxOutputBytes = 1024 * 1024;
// Grace between SIGTERM and SIGKILL when a tool is stopped.
const forceKillAfterMs = 2_000;
// How much of a failed tool's output its error message quotes.
const tailLines = 20;
const tailChars = 2_000;

export interface RunToolOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  // Added to the agent's environment.
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  readonly maxOutputBytes?: number;
}

export interface ToolOutput {
  readonly stdout: string;
  readonly stderr: string;
}

// runTool runs argv[0] with the rest as arguments and returns its output,
// or throws TOOL_FAILED (exit, timeout, signal, not found) or CANCELLED.
export async function runTool(
  argv: readonly string[],
  options: RunToolOptions,
): Promise<ToolOutput> {
  const [tool, ...args] = argv;
  invariant(tool !== undefined && tool !== '', 'runTool needs a command');
  invariant(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0, `bad timeout for ${tool}`);
  const { signal } = options;
  const maxOutputBytes = options.maxOutputBytes ?? defaultMaxOutputBytes;
  if (signal?.aborted) throw cancelled(tool, signal);

  // A process group of its own, so that stopping the tool also stops whatever
  // it started: execa kills only the direct child, and a grandchild holding
  // the output pipe would keep us waiting. systemd's cgroup kill covers the
  // agent itself dying.
  const subprocess = execa(tool, args, {
    detached: true,
    stdin: 'ignore',
    all: true,
    encoding: 'buffer',
    maxBuffer: maxOutputBytes,
    stripFinalNewline: false,
    reject: false,
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });

  let stopped: 'timeout' | 'cancel' | undefined;
  let forceKill: NodeJS.Timeout | undefined;
  const stop = (why: 'timeout' | 'cancel') => {
    if (stopped !== undefined) return;
    stopped = why;
    killGroup(subprocess.pid, 'SIGTERM');
    forceKill = setTimeout(() => killGroup(subprocess.pid, 'SIGKILL'), forceKillAfterMs);
  };
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const onAbort = () => stop('cancel');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await subprocess;
    if (stopped === 'cancel' && signal !== undefined) throw cancelled(tool, signal);
    if (!result.failed && stopped === undefined) {
      return { stdout: decode(result.stdout), stderr: decode(result.stderr) };
    }

    const tail = outputTail(decode(result.all));
    // stderr on its own, for callers that report why a tool refused (the
    // message quotes stdout and stderr interleaved).
    const context = {
      tool,
      exitCode: result.exitCode,
      timedOut: stopped === 'timeout',
      signal: result.signal,
      stderr: outputTail(decode(result.stderr)),
    };
    const fail = (message: string) =>
      new PendulumError('TOOL_FAILED', tail === '' ? message : `${message}: ${tail}`, {
        context,
        cause: result,
      });
    if (stopped === 'timeout') throw fail(`${tool} timed out after ${options.timeoutMs} ms`);
    if (result.isMaxBuffer) {
      // execa stopped only the tool itself; what it started goes too.
      killGroup(subprocess.pid, 'SIGKILL');
      throw fail(`${tool} printed more than ${maxOutputBytes} bytes`);
    }
    if (result.exitCode !== undefined) throw fail(`${tool} exited ${result.exitCode}`);
    if (result.signal !== undefined) throw fail(`${tool} was killed by ${result.signal}`);
    throw new PendulumError('TOOL_FAILED', await startFailure(tool, result.code, options.cwd), {
      context,
      cause: result,
    });
  } finally {
    clearTimeout(timer);
    clearTimeout(forceKill);
    signal?.removeEventListener('abort', onAbort);
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the whole group has already exited.
  }
}

function cancelled(tool: string, signal: AbortSignal): PendulumError {
  return new PendulumError('CANCELLED', `${tool} cancelled`, {
    context: { tool },
    cause: signal.reason,
  });
}

function decode(bytes: Uint8Array | undefined): string {
  return bytes === undefined
    ? ''
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

// outputTail is the end of what a tool printed, enough to say why it failed.
function outputTail(output: string): string {
  const lines = output.trimEnd().split('\n');
  const tail = lines.slice(-tailLines).join('\n');
  return tail.length > tailChars ? `…${tail.slice(-tailChars)}` : tail;
}

// startFailure explains why a tool never ran; execa reports a missing
// working directory with the same ENOENT as a missing command.
async function startFailure(
  tool: string,
  code: string | undefined,
  cwd: string | undefined,
): Promise<string> {
  if (code === 'ENOENT') {
    if (
      cwd !== undefined &&
      !(await stat(cwd).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    ) {
      return `${tool}: working directory ${cwd} does not exist`;
    }
    return `${tool}: command not found`;
  }
  if (code === 'EACCES') return `${tool}: permission denied`;
  return `${tool}: cannot start: ${code ?? 'unknown error'}`;
}
