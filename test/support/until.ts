// Waiting, in tests, for something another process or the server does.

// until polls `done` every 20 ms and fails after `ms`.
export async function until(done: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await done()); await pause(20)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${done}`);
  }
}

// pause resolves after `ms`.
export const pause = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
