// Fault injection around real adapters: the first call of a method made while
// the agent is in a given state fails, hangs, or cuts the power.
import { PendulumError } from '../../src/errors.js';

export type FaultKind = 'error' | 'hang' | 'power-cut';

export interface FaultPlan {
  readonly kind: FaultKind;
  // The error thrown for kind "error".
  readonly error?: PendulumError;
}

export interface FaultSwitch {
  // Fire once, when `armed()` says so.
  readonly armed: () => boolean;
  readonly plan: FaultPlan;
  fired: boolean;
  // Cuts the power: aborts the running agent.
  powerCut: () => void;
}

// fire performs the planned fault; `signal` ends a hang.
export async function fire(fault: FaultSwitch, signal: AbortSignal): Promise<never> {
  fault.fired = true;
  if (fault.plan.kind === 'power-cut') {
    fault.powerCut();
    throw new PendulumError('CANCELLED', 'power cut');
  }
  if (fault.plan.kind === 'hang') {
    await new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    throw new PendulumError('CANCELLED', 'hung until cancelled');
  }
  throw fault.plan.error ?? new PendulumError('INTERNAL', 'injected');
}

// withFault wraps one async method of an adapter.
export function withFault<T extends object>(
  target: T,
  method: keyof T,
  fault: FaultSwitch,
  signal: AbortSignal,
): T {
  const original = target[method] as unknown as (...args: unknown[]) => Promise<unknown>;
  return {
    ...target,
    [method]: async (...args: unknown[]) => {
      if (!fault.fired && fault.armed()) await fire(fault, signal);
      return original.apply(target, args);
    },
  };
}

// withStreamFault wraps an async-iterable method whose last argument is its
// AbortSignal: the fault fires after `afterItems` items.
export function withStreamFault<T extends object>(
  target: T,
  method: keyof T,
  fault: FaultSwitch,
  afterItems: number,
): T {
  const original = target[method] as unknown as (...args: unknown[]) => AsyncIterable<unknown>;
  return {
    ...target,
    [method]: (...args: unknown[]) =>
      (async function* () {
        let count = 0;
        const signal = args.at(-1) as AbortSignal;
        for await (const item of original.apply(target, args)) {
          if (!fault.fired && fault.armed() && count === afterItems) await fire(fault, signal);
          count++;
          yield item;
        }
      })(),
  };
}
