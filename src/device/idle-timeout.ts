// A stream that stops sending is a failure, not a wait: after `idleMs`
// without a chunk the iteration fails with UNAVAILABLE, so the agent retries
// and resumes from its last synced offset.
import { PendulumError } from '../errors.js';

// withIdleTimeout yields what `source` yields, failing when it goes quiet.
export async function* withIdleTimeout<T>(
  source: AsyncIterable<T>,
  idleMs: number,
  what: string,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    while (true) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new PendulumError('UNAVAILABLE', `${what}: nothing received for ${idleMs} ms`)),
          idleMs,
        );
      });
      try {
        const next = await Promise.race([iterator.next(), idle]);
        if (next.done) return;
        yield next.value;
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    // Stop the underlying stream (cancels the gRPC call) however we leave.
    await iterator.return?.();
  }
}
