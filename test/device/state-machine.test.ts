// The transition table: the update path, its failure exits, and nothing else.
import { describe, expect, it } from 'vitest';
import { type MachineEvent, machineStates, nextState } from '../../src/device/state-machine.js';
import { InvariantError } from '../../src/errors.js';

describe('state machine', () => {
  it('walks the update path from idle back to idle through a commit', () => {
    const path: [MachineEvent, string][] = [
      ['offer_verified', 'downloading'],
      ['downloaded', 'installing'],
      ['slot_verified', 'arming'],
      ['armed', 'rebooting'],
      ['booted_new', 'verifying'],
      ['healthy', 'committing'],
      ['committed', 'idle'],
    ];
    let state: (typeof machineStates)[number] = 'idle';
    for (const [event, expected] of path) {
      state = nextState(state, event);
      expect(state).toBe(expected);
    }
  });

  it('goes back to the old slot through rolling_back and failing when the trial is unhealthy', () => {
    expect(nextState('verifying', 'unhealthy')).toBe('rolling_back');
    expect(nextState('rolling_back', 'booted_old')).toBe('failing');
    expect(nextState('failing', 'cleaned_up')).toBe('idle');
  });

  it('fails before arming from every pre-boot state, and after a fallback from the trial states', () => {
    for (const state of ['downloading', 'installing', 'arming'] as const)
      expect(nextState(state, 'failed')).toBe('failing');
    for (const state of ['rebooting', 'verifying'] as const)
      expect(nextState(state, 'fell_back')).toBe('failing');
  });

  it('never commits without passing through verifying', () => {
    for (const state of machineStates) {
      if (state === 'verifying') continue;
      expect(() => nextState(state, 'healthy')).toThrow(InvariantError);
    }
  });

  it('refuses to arm from anywhere but a verified slot', () => {
    for (const state of machineStates) {
      if (state === 'arming') continue;
      expect(() => nextState(state, 'armed')).toThrow(InvariantError);
    }
    for (const state of machineStates) {
      if (state === 'installing') continue;
      expect(() => nextState(state, 'slot_verified')).toThrow(InvariantError);
    }
  });
});
