// A stream that stops sending is a failure, not a wait: after `idleMs`
// without an item the iteration fails with UNAVAILABLE and `onIdle` cancels
// the stream, so the agent retries and resumes from its last synced offset.
import { PendulumError } from '../errors.js';

// withIdleTimeout yields what `source` yields, failing when it goes quiet.
export async function* withIdleTimeout<T>(
  source: AsyncIterable<T>,
  idleMs: number,
  what: string,
  onIdle: () => void,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    while (true) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          onIdle();
          reject(new PendulumError('UNAVAILABLE', `${what}: nothing received for ${idleMs} ms`));
        }, idleMs);
      });
      try {
        const next = await Promise.race([iterator.next(), idle]);
        if (next.done) {
          finished = true;
          return;
        }
        yield next.value;
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    // Not awaited: a generator parked in an await would hold `return` until it
    // wakes, which a stalled stream never does. `onIdle` has cancelled it.
    if (!finished) iterator.return?.(undefined).catch(() => undefined);
  }
}
