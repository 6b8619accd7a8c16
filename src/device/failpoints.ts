// Failpoints for fault-injection tests: when PENDULUM_FAILPOINTS names a
// checkpoint, the agent kills itself there with SIGKILL — exactly what a crash
// or power cut at that instant looks like. Off unless the variable is set.

export const checkpoints = ['download-progress', 'installed', 'armed', 'verifying'] as const;
export type Checkpoint = (typeof checkpoints)[number];

const armed = new Set(
  (process.env.PENDULUM_FAILPOINTS ?? '').split(',').filter((name) => name !== ''),
);

// checkpoint dies here if a test asked it to.
export function checkpoint(name: Checkpoint): void {
  if (armed.has(name)) process.kill(process.pid, 'SIGKILL');
}
