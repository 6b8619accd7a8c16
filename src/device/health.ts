// Health checks for a trial boot: only when every check passes before the
// confirm deadline does the agent commit the new slot.
import { isPendulumError, PendulumError } from '../errors.js';
import { runTool } from './tools.js';

export interface HealthCheck {
  readonly name: string;
  readonly command: readonly string[];
  readonly timeoutMs: number;
}

export interface HealthCheckOptions {
  // Epoch ms by which the new slot must be confirmed; no check runs past it.
  readonly deadlineAt: number;
  readonly env: Record<string, string>;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

// runHealthChecks runs the checks in order and throws HEALTH_CHECK_FAILED for
// the first one that fails, times out, or cannot start before the deadline.
export async function runHealthChecks(
  checks: readonly HealthCheck[],
  options: HealthCheckOptions,
): Promise<void> {
  const now = options.now ?? Date.now;
  for (const check of checks) {
    const remaining = options.deadlineAt - now();
    if (remaining <= 0) {
      throw new PendulumError(
        'HEALTH_CHECK_FAILED',
        `confirm deadline passed before health check "${check.name}"`,
        {
          context: { check: check.name },
        },
      );
    }
    const cappedByDeadline = remaining < check.timeoutMs;
    try {
      await runTool(check.command, {
        timeoutMs: cappedByDeadline ? remaining : check.timeoutMs,
        env: options.env,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      if (!isPendulumError(error, 'TOOL_FAILED')) throw error;
      const atDeadline =
        cappedByDeadline && error.context.timedOut === true ? ' (at the confirm deadline)' : '';
      throw new PendulumError(
        'HEALTH_CHECK_FAILED',
        `health check "${check.name}" failed${atDeadline}: ${error.message}`,
        {
          context: { check: check.name },
          cause: error,
        },
      );
    }
  }
}
