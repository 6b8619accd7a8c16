// What the agent's steps work with: its adapters, its persisted state and a clock.
import type { Logger } from 'pino';
import type { AgentState } from './agent-state.js';
import type { Bootloader } from './bootloaders/bootloader.js';
import type { Journal } from './journal.js';
import type { RollbackFloorStore } from './rollback-floor.js';
import type { Slot, SlotName } from './slots/slot.js';
import type { UpdateSource } from './source/source.js';

export interface AgentSettings {
  // Hex SHA-256 of the device's public key, as the server knows it.
  readonly deviceId: string;
  readonly classId: string;
  readonly syncEveryBytes: number;
  readonly progressEveryMs: number;
  // A download that sends nothing for this long is retried.
  readonly downloadIdleMs: number;
  // Slow retrieval: a payload stream below this rate over a full window, or
  // not done by its deadline, fails the deployment (TOO_SLOW).
  readonly downloadMinBytesPerSec: number;
  readonly downloadMinRateWindowMs: number;
  readonly downloadDeadlineMs: number;
  readonly inventory: Readonly<Record<string, string>>;
  // How often an idle agent reruns the health checks on the release it
  // committed, for the server's post-commit health watch (0: never).
  readonly periodicHealthEveryMs: number;
}

export interface AgentRuntime {
  readonly settings: AgentSettings;
  readonly slots: Readonly<Record<SlotName, Slot>>;
  readonly bootloader: Bootloader;
  readonly source: UpdateSource;
  // The persisted anti-rollback floor, kept apart from the journal.
  readonly rollbackFloor: RollbackFloorStore;
  // Runs the configured health checks; throws HEALTH_CHECK_FAILED.
  readonly checkHealth: (
    env: Record<string, string>,
    deadlineAt: number,
    signal: AbortSignal,
  ) => Promise<void>;
  // Runs the configured reboot command; resolves when the command has returned.
  readonly reboot: (signal: AbortSignal) => Promise<void>;
  readonly now: () => number;
  readonly log: Logger;
  readonly signal: AbortSignal;
  // The state as last persisted.
  readonly state: AgentState;
  // save persists a new state (atomically) and makes it current.
  save(next: AgentState): Promise<void>;
}

export interface RuntimeParts extends Omit<AgentRuntime, 'state' | 'save'> {
  readonly journal: Journal<AgentState>;
  // The state to start from: the journal's, or a factory-fresh one.
  readonly initial: AgentState;
}

// createRuntime binds the parts to a journal: `save` persists, then updates `state`.
export function createRuntime(parts: RuntimeParts): AgentRuntime {
  const { journal, initial, ...rest } = parts;
  let state = initial;
  return {
    ...rest,
    get state() {
      return state;
    },
    async save(next) {
      await journal.save(next);
      state = next;
    },
  };
}
