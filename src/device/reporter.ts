// Reports to the server go through an outbox kept in the journal, so a
// transition reported just before a reboot or power cut still arrives.
import { PendulumError } from '../errors.js';
import type { AgentState, PendingReport } from './agent-state.js';
import { isTransient } from './retry.js';
import type { AgentRuntime } from './runtime.js';

// withReport returns the state with a report appended to its outbox, under
// the next report sequence (the server records each sequence once).
export function withReport(state: AgentState, report: Omit<PendingReport, 'sequence'>): AgentState {
  const sequence = state.reportSequence + 1;
  return {
    ...state,
    reportSequence: sequence,
    outbox: [...state.outbox, { ...report, sequence }],
  };
}

// flushOutbox sends queued reports in order and drops each once the server
// has it; it stops at the first transient failure and tries again next time.
export async function flushOutbox(rt: AgentRuntime): Promise<void> {
  while (rt.state.outbox.length > 0) {
    const [report] = rt.state.outbox;
    if (report === undefined) return;
    try {
      await rt.source.report(report, rt.signal);
    } catch (error) {
      if (isTransient(error)) {
        rt.log.warn(
          { err: PendulumError.from(error).message, state: report.state },
          'report not delivered; will retry',
        );
        return;
      }
      // The server will never take it (e.g. the deployment is gone); keep going.
      rt.log.warn(
        { err: PendulumError.from(error).message, report },
        'report refused by the server; dropped',
      );
    }
    await rt.save({ ...rt.state, outbox: rt.state.outbox.slice(1) });
  }
}
