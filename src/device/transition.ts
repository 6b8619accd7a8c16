// Moving the state machine: look the transition up in the table, persist the
// new state (with its report queued) before anything else happens, then try
// to deliver the report.
import { invariant, type PendulumError } from '../errors.js';
import type { DeploymentStateName } from '../wire/enums.js';
import type { AgentState, PendingReport } from './agent-state.js';
import { flushOutbox, withReport } from './reporter.js';
import type { AgentRuntime } from './runtime.js';
import { type MachineEvent, nextState, reportedState } from './state-machine.js';

type Machine = AgentState['machine'];

export interface TransitionOptions {
  // Fields of the machine state to change along with its name.
  readonly machine?: Partial<Omit<Machine, 'name'>>;
  // Other parts of the state to change in the same write.
  readonly state?: Partial<Omit<AgentState, 'machine' | 'outbox'>>;
  // Report this instead of the table's default for the new state.
  readonly report?: {
    state: DeploymentStateName;
    error?: PendulumError | AgentState['machine']['failure'];
  };
}

// transition applies `event`, persists, and flushes the outbox (best effort).
export async function transition(
  rt: AgentRuntime,
  event: MachineEvent,
  options: TransitionOptions = {},
): Promise<void> {
  const from = rt.state.machine;
  const name = nextState(from.name, event);
  const deployment = options.machine?.deployment ?? from.deployment;
  invariant(deployment !== undefined, `transition ${event} from ${from.name} without a deployment`);
  const machine: Machine =
    name === 'idle' ? { name, offset: 0 } : { ...from, ...options.machine, name };
  let next: AgentState = { ...rt.state, ...options.state, machine };
  const reported = options.report?.state ?? reportedState[name];
  if (reported !== undefined) {
    const error = options.report?.error;
    const report: Omit<PendingReport, 'sequence'> = {
      deploymentId: deployment.id,
      state: reported,
      bytesDone: name === 'downloading' ? machine.offset : deployment.size,
      bytesTotal: deployment.size,
      errorCode: error?.code ?? '',
      message: error?.message ?? '',
    };
    next = withReport(next, report);
  }
  await rt.save(next);
  rt.log.info(
    { from: from.name, to: name, event, deployment: deployment.id, version: deployment.version },
    `agent: ${from.name} -> ${name}`,
  );
  await flushOutbox(rt).catch((error: unknown) =>
    rt.log.warn({ err: error }, 'outbox flush failed'),
  );
}
