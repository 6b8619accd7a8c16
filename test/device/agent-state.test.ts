// The journal's schema across agent versions (src/device/agent-state.ts).
import { describe, expect, it } from 'vitest';
import { factoryState, parseAgentState } from '../../src/device/agent-state.js';
import { generateKeyPair } from '../../src/trust/index.js';
import { rootDocument } from '../support/vendor.js';

const key = generateKeyPair();
const root = rootDocument({ version: 1, rootKeys: [key], releaseKeys: [key], signers: [key] });

// A deployment as the agent journalled it before releases carried a rollback floor.
const olderDeployment = {
  id: 'deployment-1',
  payloadId: 'ab'.repeat(32),
  version: '2.0.0',
  sequence: 2,
  sha256: 'ab'.repeat(32),
  size: 4096,
  targetSlot: 'B',
  fromSlot: 'A',
  fromVersion: '1.0.0',
  bootAttempts: 3,
  confirmDeadlineMs: 60_000,
};

describe('agent state', () => {
  it('resumes a deployment journalled before rollback floors as one that raises nothing', () => {
    const journal = JSON.parse(
      JSON.stringify({
        ...factoryState({ booted: 'A', version: '1.0.0', sequence: 1, trustRoot: root }),
        machine: { name: 'verifying', deployment: olderDeployment, offset: 4096 },
      }),
    ) as unknown;
    expect(parseAgentState(journal).machine.deployment?.rollbackFloor).toBe(0);
  });

  it('keeps the floor a deployment will raise the device to', () => {
    const journal = {
      ...factoryState({ booted: 'A', version: '1.0.0', sequence: 1, trustRoot: root }),
      machine: {
        name: 'committing',
        deployment: { ...olderDeployment, rollbackFloor: 2 },
        offset: 4096,
      },
    };
    expect(parseAgentState(journal).machine.deployment?.rollbackFloor).toBe(2);
  });

  it('rejects a negative floor in a journal', () => {
    const journal = {
      ...factoryState({ booted: 'A', version: '1.0.0', sequence: 1, trustRoot: root }),
      machine: { name: 'committing', deployment: { ...olderDeployment, rollbackFloor: -1 } },
    };
    expect(() => parseAgentState(journal)).toThrow();
  });
});
