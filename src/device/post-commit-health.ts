// After a commit the agent keeps watching the release it committed: how
// often the agent restarted, and its health checks rerun periodically while
// idle. Every check-in carries the counts; rollouts with a health watch pause
// themselves when too many freshly committed devices turn unhealthy.
import { PendulumError } from '../errors.js';
import type { PostCommitHealth } from './agent-state.js';
import type { AgentRuntime } from './runtime.js';

const periodicRunLimitMs = 10 * 60_000;

// freshHealth is the record a commit starts.
export function freshHealth(now: number): PostCommitHealth {
  return {
    committedAt: now,
    restarts: 0,
    checksRun: 0,
    checksFailed: 0,
    lastFailure: '',
    lastCheckAt: now,
  };
}

// recordAgentStart counts one start of a long-running agent since the commit.
export async function recordAgentStart(rt: AgentRuntime): Promise<void> {
  const health = rt.state.postCommit;
  if (health === undefined) return;
  await rt.save({ ...rt.state, postCommit: { ...health, restarts: health.restarts + 1 } });
}

// runPeriodicCheck reruns the health checks on the committed release when one
// is due, and records the result; an idle agent calls it after each poll.
export async function runPeriodicCheck(rt: AgentRuntime): Promise<void> {
  const health = rt.state.postCommit;
  const every = rt.settings.periodicHealthEveryMs;
  if (health === undefined || every <= 0 || rt.state.machine.name !== 'idle') return;
  const now = rt.now();
  if (now - health.lastCheckAt < every) return;
  const { committed } = rt.state;
  const env = {
    PENDULUM_SLOT: committed.slot,
    PENDULUM_SLOT_DEVICE: rt.slots[committed.slot].location,
    PENDULUM_VERSION: committed.version,
    PENDULUM_PERIODIC: '1',
  };
  let failure = '';
  try {
    // Each check keeps its own timeout; this only bounds the whole run.
    await rt.checkHealth(env, now + periodicRunLimitMs, rt.signal);
  } catch (error) {
    if (rt.signal.aborted) throw error;
    failure = PendulumError.from(error, 'HEALTH_CHECK_FAILED').message;
    rt.log.warn({ version: committed.version }, `periodic health check failed: ${failure}`);
  }
  await rt.save({
    ...rt.state,
    postCommit: {
      ...health,
      checksRun: health.checksRun + 1,
      checksFailed: health.checksFailed + (failure === '' ? 0 : 1),
      lastFailure: failure === '' ? health.lastFailure : failure,
      lastCheckAt: now,
    },
  });
}
