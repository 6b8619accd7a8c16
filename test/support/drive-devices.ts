// Drives simulated devices as their agents would run on their own: each
// device's agent runs once at a time (`--once`), rebooting when it asks, a
// few devices at once, until every device is where the test wants it. A run
// that fails — the server replica it was talking to died under it — is
// retried later, as systemd restarts the agent; only a bounded number of
// failures per device is tolerated.
import type { SimulatedDevice } from '../../src/demo/simulated-device.js';
import { pause } from './until.js';

export interface DriveOptions<D extends SimulatedDevice> {
  // done tells whether a device has got where the test wants it.
  readonly done: (device: D) => Promise<boolean>;
  // Agent runs at once.
  readonly concurrency: number;
  // Failed runs tolerated per device before driving gives up.
  readonly maxFailedRuns: number;
  // Driving gives up after this long.
  readonly timeoutMs: number;
  // The wait before a device that is idle (nothing for it yet) runs again.
  readonly idlePauseMs?: number;
}

export interface DriveResult {
  // Agent runs made, and those that exited non-zero.
  readonly runs: number;
  readonly failedRuns: number;
  // The last lines of what each failed run printed.
  readonly failures: readonly string[];
}

// driveDevices runs the devices' agents until `done` holds for every one.
export async function driveDevices<D extends SimulatedDevice>(
  devices: readonly D[],
  options: DriveOptions<D>,
): Promise<DriveResult> {
  const queue = [...devices];
  const failedRuns = new Map<D, number>();
  const failures: string[] = [];
  let runs = 0;
  let left = devices.length;
  let stop: Error | undefined;
  const deadline = Date.now() + options.timeoutMs;
  // step runs one device's agent once; true when the device is done.
  const step = async (device: D): Promise<boolean> => {
    runs++;
    const run = await device.runAgent();
    if (run.code !== 0) {
      const failed = (failedRuns.get(device) ?? 0) + 1;
      failedRuns.set(device, failed);
      failures.push(`${device.dir}: ${tail(run.stderr || run.stdout)}`);
      if (failed > options.maxFailedRuns)
        throw new Error(
          `agent in ${device.dir} failed ${failed} runs; the last: exit ${run.code ?? run.signal}: ${run.stderr.trim() || run.stdout.trim()}`,
        );
      return false;
    }
    if (run.result === 'reboot') await device.boot();
    if (await options.done(device)) return true;
    if (run.result === 'idle') await pause(options.idlePauseMs ?? 200);
    return false;
  };
  const worker = async () => {
    while (left > 0 && stop === undefined) {
      const device = queue.shift();
      // Every device left is running in another worker.
      if (device === undefined) {
        await pause(20);
        continue;
      }
      if (Date.now() > deadline) {
        stop = new Error(
          `devices not done after ${options.timeoutMs} ms (${left} left; ${runs} runs; last failures: ${failures.slice(-3).join(' | ')})`,
        );
        break;
      }
      try {
        if (await step(device)) left--;
        else queue.push(device);
      } catch (error) {
        stop = error instanceof Error ? error : new Error(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  if (stop !== undefined) throw stop;
  return { runs, failedRuns: failures.length, failures };
}

// tail is the last line of a run's output that says something.
function tail(output: string): string {
  const lines = output.trim().split('\n');
  return (lines.at(-1) ?? '').slice(0, 400);
}
