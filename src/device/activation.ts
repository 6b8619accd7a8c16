// When an installed release may be activated (the bootloader armed and the
// device rebooted into it): at once, or inside the rollout's maintenance
// window, judged on the device's trusted clock. Pure.

import { parseWindow } from '../schedule/window.js';
import type { DeploymentRecord } from './agent-state.js';

export type Activation =
  | { readonly now: true }
  | { readonly now: false; readonly opensAt: Date | undefined };

// activation tells whether `d` may be activated at `clock`, and if not, when
// its window next opens (undefined: the schedule never fires again).
export function activation(d: DeploymentRecord, clock: Date): Activation {
  if (d.window === undefined) return { now: true };
  const window = parseWindow(d.window);
  if (window.isOpen(clock)) return { now: true };
  return { now: false, opensAt: window.nextOpen(clock) };
}

// waitMs is how long to sleep before looking again: until the window opens,
// but never longer than one poll interval, so the device keeps checking in.
export function waitMs(opensAt: Date | undefined, clock: Date, pollIntervalMs: number): number {
  if (opensAt === undefined) return pollIntervalMs;
  return Math.max(1000, Math.min(pollIntervalMs, opensAt.getTime() - clock.getTime()));
}
