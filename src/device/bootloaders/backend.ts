// What every bootloader backend shares: a failure is BOOTLOADER_FAILED whose
// message names the backend ("grub: grub-editenv exited 1: …") and whose
// context keeps a failed tool's exit code and stderr; the contract's
// preconditions are checked once, here.
import { InvariantError, invariant, isPendulumError, PendulumError } from '../../errors.js';
import type { Bootloader } from './bootloader.js';

// defineBackend is `bootloader` with its failures made BOOTLOADER_FAILED.
export function defineBackend(bootloader: Bootloader): Bootloader {
  const { kind } = bootloader;
  const guard =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (error) {
        throw bootloaderError(kind, error);
      }
    };
  return {
    kind,
    booted: guard(() => bootloader.booted()),
    state: guard(() => bootloader.state()),
    tryOnce: guard(async (slot, attempts) => {
      invariant(
        Number.isInteger(attempts) && attempts >= 1,
        `boot attempts must be a positive integer, got ${attempts}`,
      );
      await bootloader.tryOnce(slot, attempts);
    }),
    markGood: guard((slot) => bootloader.markGood(slot)),
    markBad: guard((slot) => bootloader.markBad(slot)),
  };
}

// bootloaderError is `error` as a BOOTLOADER_FAILED of backend `kind`, with
// the tool's context (tool, exitCode, stderr) kept; cancellation and
// programmer mistakes pass unchanged.
export function bootloaderError(kind: string, error: unknown): unknown {
  if (error instanceof InvariantError || isPendulumError(error, 'CANCELLED')) return error;
  const failure = PendulumError.from(error);
  return new PendulumError('BOOTLOADER_FAILED', `${kind}: ${failure.message}`, {
    context: { ...failure.context, backend: kind },
    cause: error,
  });
}
