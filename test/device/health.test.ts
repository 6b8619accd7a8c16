import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HealthCheck, runHealthChecks } from '../../src/device/health.js';
import { isPendulumError, type PendulumError } from '../../src/errors.js';
import { createFakeTools, type FakeTools } from '../fakes/fake-tool.js';

let tools: FakeTools;
let log: string;

beforeAll(async () => {
  tools = await createFakeTools();
  log = join(tools.dir, 'ran.log');
  // A check that records that it ran, then exits with its second argument.
  await tools.add('check', `echo "$1" >> ${log}; echo "checked $1"; exit "\${2:-0}"`);
  await tools.add('hang', 'sleep 30');
  await tools.add('slot-is', 'test "$PENDULUM_SLOT" = "$1"');
});
afterAll(() => tools.remove());

const check = (name: string, exit = 0, timeoutMs = 5_000): HealthCheck => ({
  name,
  command: ['check', name, String(exit)],
  timeoutMs,
});

async function failure(promise: Promise<unknown>): Promise<PendulumError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPendulumError(error)) throw new Error(`expected a PendulumError, got ${String(error)}`);
  return error;
}

async function ran(): Promise<string[]> {
  return existsSync(log) ? (await readFile(log, 'utf8')).trim().split('\n') : [];
}

describe('runHealthChecks', () => {
  const later = () => Date.now() + 30_000;

  it('passes when every check passes, running them in order', async () => {
    const before = (await ran()).length;
    await runHealthChecks([check('network'), check('app')], {
      deadlineAt: later(),
      env: tools.env,
    });
    expect((await ran()).slice(before)).toEqual(['network', 'app']);
  });

  it('passes when no checks are configured', async () => {
    await expect(
      runHealthChecks([], { deadlineAt: later(), env: tools.env }),
    ).resolves.toBeUndefined();
  });

  it('names the failing check, quotes its output, and runs no check after it', async () => {
    const before = (await ran()).length;
    const error = await failure(
      runHealthChecks([check('disk'), check('database', 4), check('ui')], {
        deadlineAt: later(),
        env: tools.env,
      }),
    );
    expect(error.code).toBe('HEALTH_CHECK_FAILED');
    expect(error.message).toBe('health check "database" failed: check exited 4: checked database');
    expect(error.context).toEqual({ check: 'database' });
    expect(isPendulumError(error.cause, 'TOOL_FAILED')).toBe(true);
    expect((await ran()).slice(before)).toEqual(['disk', 'database']);
  });

  it('stops a hanging check at the confirm deadline, not at its own longer timeout', async () => {
    const started = Date.now();
    const hang: HealthCheck = { name: 'hang', command: ['hang'], timeoutMs: 60_000 };
    const error = await failure(
      runHealthChecks([hang], { deadlineAt: Date.now() + 300, env: tools.env }),
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.code).toBe('HEALTH_CHECK_FAILED');
    expect(error.message).toMatch(
      /^health check "hang" failed \(at the confirm deadline\): hang timed out after \d+ ms$/,
    );
  });

  it('fails a check that hangs past its own timeout', async () => {
    const hang: HealthCheck = { name: 'hang', command: ['hang'], timeoutMs: 200 };
    const error = await failure(runHealthChecks([hang], { deadlineAt: later(), env: tools.env }));
    expect(error.message).toBe('health check "hang" failed: hang timed out after 200 ms');
  });

  it('does not start a check once the confirm deadline has passed', async () => {
    const before = (await ran()).length;
    const clock = [1_000, 2_500];
    const error = await failure(
      runHealthChecks([check('first'), check('second')], {
        deadlineAt: 2_000,
        env: tools.env,
        now: () => clock.shift() ?? 9_999,
      }),
    );
    expect(error.code).toBe('HEALTH_CHECK_FAILED');
    expect(error.message).toBe('confirm deadline passed before health check "second"');
    expect((await ran()).slice(before)).toEqual(['first']);
  });

  it('gives checks the environment the agent passes', async () => {
    const slotIs = (slot: string): HealthCheck => ({
      name: 'slot',
      command: ['slot-is', slot],
      timeoutMs: 5_000,
    });
    const env = { ...tools.env, PENDULUM_SLOT: 'B' };
    await runHealthChecks([slotIs('B')], { deadlineAt: later(), env });
    expect((await failure(runHealthChecks([slotIs('A')], { deadlineAt: later(), env }))).code).toBe(
      'HEALTH_CHECK_FAILED',
    );
  });

  it('reports a cancelled run as CANCELLED, not as an unhealthy slot', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const hang: HealthCheck = { name: 'hang', command: ['hang'], timeoutMs: 30_000 };
    const error = await failure(
      runHealthChecks([hang], { deadlineAt: later(), env: tools.env, signal: controller.signal }),
    );
    expect(error.code).toBe('CANCELLED');
  });

  it('fails a check whose command is not installed', async () => {
    const missing: HealthCheck = {
      name: 'probe',
      command: ['pendulum-no-such-probe'],
      timeoutMs: 5_000,
    };
    const error = await failure(
      runHealthChecks([missing], { deadlineAt: later(), env: tools.env }),
    );
    expect(error.message).toBe(
      'health check "probe" failed: pendulum-no-such-probe: command not found',
    );
  });
});
