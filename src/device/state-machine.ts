// The agent's update state machine as one declarative table: state × event →
// next state. The orchestrator (install.ts) performs each state's side effect
// and feeds the resulting event back through `nextState`.
import { invariant } from '../errors.js';
import type { DeploymentStateName } from '../wire/enums.js';

export const machineStates = [
  'idle', // polling; nothing in progress
  'downloading', // streaming the payload into the inactive slot (resumable)
  'installing', // reading the written slot back and checking its digest
  'arming', // telling the bootloader to try the new slot once
  'rebooting', // armed; rebooting into the trial
  'verifying', // running health checks on the trial boot
  'committing', // marking the new slot good for good
  'rolling_back', // health failed on the trial boot; returning to the old slot
  'failing', // cleaning up after a failure and reporting it
] as const;
export type MachineStateName = (typeof machineStates)[number];

export type MachineEvent =
  | 'offer_verified'
  | 'downloaded'
  | 'slot_verified'
  | 'armed'
  | 'booted_new'
  | 'fell_back'
  | 'healthy'
  | 'unhealthy'
  | 'committed'
  | 'booted_old'
  | 'failed'
  | 'cleaned_up';

const table: Readonly<Record<MachineStateName, Partial<Record<MachineEvent, MachineStateName>>>> = {
  idle: { offer_verified: 'downloading' },
  downloading: { downloaded: 'installing', failed: 'failing' },
  installing: { slot_verified: 'arming', failed: 'failing' },
  arming: { armed: 'rebooting', failed: 'failing' },
  rebooting: { booted_new: 'verifying', fell_back: 'failing' },
  verifying: { healthy: 'committing', unhealthy: 'rolling_back', fell_back: 'failing' },
  committing: { committed: 'idle' },
  rolling_back: { booted_old: 'failing' },
  failing: { cleaned_up: 'idle' },
};

// nextState looks up a transition; an event the table does not allow is a bug.
export function nextState(from: MachineStateName, event: MachineEvent): MachineStateName {
  const to = table[from][event];
  invariant(to !== undefined, `no transition from ${from} on ${event}`);
  return to;
}

// What the server is told when the agent enters each state.
export const reportedState: Readonly<Record<MachineStateName, DeploymentStateName | undefined>> = {
  idle: undefined,
  downloading: 'downloading',
  installing: 'downloading',
  arming: 'installed',
  rebooting: 'armed',
  verifying: 'verifying',
  committing: 'verifying',
  rolling_back: 'rolling_back',
  failing: undefined,
};
