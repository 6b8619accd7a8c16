// Rebooting through the configured command (e.g. `systemctl reboot`).
import type { Logger } from 'pino';
import { PendulumError } from '../errors.js';
import { runTool } from './tools.js';

// commandReboot returns a reboot function that runs `command` with a timeout.
export function commandReboot(command: readonly string[], timeoutMs: number, log: Logger) {
  return async (signal: AbortSignal): Promise<void> => {
    log.info({ command }, 'rebooting');
    await runTool(command, { timeoutMs, signal }).catch((error: unknown) => {
      throw new PendulumError(
        'REBOOT_FAILED',
        `reboot command failed: ${PendulumError.from(error).message}`,
        { cause: error },
      );
    });
  };
}
