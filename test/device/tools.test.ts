import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from '../../src/device/tools.js';
import { isPendulumError, type PendulumError } from '../../src/errors.js';
import { createFakeTools, type FakeTools } from '../fakes/fake-tool.js';

let tools: FakeTools;

beforeAll(async () => {
  tools = await createFakeTools();
});
afterAll(() => tools.remove());

async function failure(promise: Promise<unknown>): Promise<PendulumError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPendulumError(error)) throw new Error(`expected a PendulumError, got ${String(error)}`);
  return error;
}

// A process is gone once it is reaped or a zombie nobody will run again.
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('runTool', () => {
  it('returns what a successful tool printed', async () => {
    await tools.add('greet', 'echo "hello $1"; echo warning >&2');
    const output = await runTool(['greet', 'device'], { timeoutMs: 5_000, env: tools.env });
    expect(output).toEqual({ stdout: 'hello device\n', stderr: 'warning\n' });
  });

  it('passes arguments without a shell', async () => {
    await tools.add('echo-args', 'for a in "$@"; do echo "[$a]"; done');
    const output = await runTool(['echo-args', '$(reboot)', 'a b', ';ls'], {
      timeoutMs: 5_000,
      env: tools.env,
    });
    expect(output.stdout).toBe('[$(reboot)]\n[a b]\n[;ls]\n');
  });

  it('runs in the given directory with the given environment', async () => {
    await tools.add('where', 'pwd; echo "$PENDULUM_SLOT"');
    const output = await runTool(['where'], {
      timeoutMs: 5_000,
      env: { ...tools.env, PENDULUM_SLOT: 'B' },
      cwd: tools.dir,
    });
    expect(output.stdout).toBe(`${tools.dir}\nB\n`);
  });

  it('reports a non-zero exit with its code and the last lines of output', async () => {
    await tools.add(
      'fails',
      'i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done; echo "boom" >&2; exit 3',
    );
    const error = await failure(runTool(['fails'], { timeoutMs: 5_000, env: tools.env }));
    expect(error.code).toBe('TOOL_FAILED');
    expect(error.message).toMatch(/^fails exited 3: /);
    expect(error.message).toContain('line 30\nboom');
    expect(error.message).not.toContain('line 5\n');
    expect(error.context).toMatchObject({
      tool: 'fails',
      exitCode: 3,
      timedOut: false,
      stderr: 'boom',
    });
    expect(error.cause).toBeDefined();
  });

  it('reports a tool that is not installed as command not found', async () => {
    const error = await failure(runTool(['pendulum-no-such-tool'], { timeoutMs: 5_000 }));
    expect(error.code).toBe('TOOL_FAILED');
    expect(error.message).toBe('pendulum-no-such-tool: command not found');
  });

  it('reports a missing working directory as such, not as a missing command', async () => {
    await tools.add('noop', 'true');
    const error = await failure(
      runTool(['noop'], { timeoutMs: 5_000, env: tools.env, cwd: join(tools.dir, 'gone') }),
    );
    expect(error.message).toBe(`noop: working directory ${join(tools.dir, 'gone')} does not exist`);
  });

  it('reports a tool killed by a signal', async () => {
    await tools.add('crashes', 'kill -9 $$');
    const error = await failure(runTool(['crashes'], { timeoutMs: 5_000, env: tools.env }));
    expect(error.message).toBe('crashes was killed by SIGKILL');
  });

  it('stops a hung tool at its timeout, together with everything it started', async () => {
    const pidFile = join(tools.dir, 'child.pid');
    await tools.add('hangs', `sleep 30 & echo $! > ${pidFile}; echo started; sleep 30`);
    const started = Date.now();
    const error = await failure(runTool(['hangs'], { timeoutMs: 300, env: tools.env }));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.code).toBe('TOOL_FAILED');
    expect(error.message).toBe('hangs timed out after 300 ms: started');
    expect(error.context).toMatchObject({ tool: 'hangs', timedOut: true });
    expect(isRunning(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });

  it('kills a hung tool that ignores SIGTERM', async () => {
    await tools.add('stubborn', "trap '' TERM; sleep 30");
    const started = Date.now();
    const error = await failure(runTool(['stubborn'], { timeoutMs: 200, env: tools.env }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.message).toBe('stubborn timed out after 200 ms');
  });

  it('stops the tool when cancelled and reports CANCELLED, not a tool failure', async () => {
    await tools.add('slow', 'sleep 30');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const error = await failure(
      runTool(['slow'], { timeoutMs: 30_000, env: tools.env, signal: controller.signal }),
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.code).toBe('CANCELLED');
  });

  it('does not start a tool when already cancelled', async () => {
    const marker = join(tools.dir, 'ran');
    await tools.add('marks', `touch ${marker}`);
    const controller = new AbortController();
    controller.abort();
    const error = await failure(
      runTool(['marks'], { timeoutMs: 5_000, env: tools.env, signal: controller.signal }),
    );
    expect(error.code).toBe('CANCELLED');
    expect(existsSync(marker)).toBe(false);
  });

  it('fails a tool that prints more than the output bound instead of buffering it all', async () => {
    await tools.add('chatty', 'yes | head -c 100000');
    const error = await failure(
      runTool(['chatty'], { timeoutMs: 5_000, env: tools.env, maxOutputBytes: 1_000 }),
    );
    expect(error.code).toBe('TOOL_FAILED');
    expect(error.message).toMatch(/^chatty printed more than 1000 bytes/);
  });
});
