// Report sequences in the agent's journal: every report the server records
// carries a number above the last (see also the fault table, which checks
// the numbers across power cuts).
import { describe, expect, it } from 'vitest';
import { factoryState, parseAgentState } from '../../src/device/agent-state.js';
import { withReport } from '../../src/device/reporter.js';
import { generateKeyPair } from '../../src/trust/index.js';
import { rootDocument } from '../support/vendor.js';

const key = generateKeyPair();
const root = rootDocument({ version: 1, rootKeys: [key], releaseKeys: [key], signers: [key] });
const state = factoryState({ booted: 'A', version: '1.0.0', sequence: 1, trustRoot: root });
const report = {
  deploymentId: 'd1',
  state: 'downloading' as const,
  bytesDone: 0,
  bytesTotal: 10,
  errorCode: '',
  message: '',
};

describe('report sequences', () => {
  it('gives each queued report the next number', () => {
    const next = withReport(withReport(state, report), { ...report, state: 'failed' });
    expect(next.outbox.map((r) => r.sequence)).toEqual([1, 2]);
    expect(next.reportSequence).toBe(2);
  });

  it('numbers reports a journal queued before reports carried a sequence, after the last one', () => {
    const old = JSON.parse(
      JSON.stringify({
        ...state,
        reportSequence: 4,
        outbox: [report, { ...report, state: 'failed' }],
      }),
    );
    for (const r of old.outbox) delete r.sequence;
    const loaded = parseAgentState(old);
    expect(loaded.outbox.map((r) => r.sequence)).toEqual([5, 6]);
    expect(loaded.reportSequence).toBe(6);
  });
});
