// Consumes an upload stream while checking it against its declared size and
// digest, stopping at the first byte too many.
import { createHash } from 'node:crypto';
import { PendulumError } from '../../errors.js';

// verifyStream passes each chunk to `sink` and throws SIZE_MISMATCH or
// DIGEST_MISMATCH; a stream longer than declared is abandoned as soon as the
// excess arrives, so a hostile client cannot make the server read on.
export async function verifyStream(
  expected: { sha256: string; size: number },
  chunks: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
  sink: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  const hash = createHash('sha256');
  let total = 0;
  for await (const chunk of abortable(chunks, signal)) {
    total += chunk.length;
    if (total > expected.size) {
      throw new PendulumError(
        'SIZE_MISMATCH',
        `payload ${expected.sha256} is longer than the declared ${expected.size} bytes`,
        {
          context: { payloadId: expected.sha256 },
        },
      );
    }
    hash.update(chunk);
    await sink(chunk);
  }
  if (total < expected.size) {
    throw new PendulumError(
      'SIZE_MISMATCH',
      `payload ${expected.sha256} ended after ${total} of the declared ${expected.size} bytes`,
      {
        context: { payloadId: expected.sha256 },
      },
    );
  }
  const actual = hash.digest('hex');
  if (actual !== expected.sha256) {
    throw new PendulumError(
      'DIGEST_MISMATCH',
      `payload declared as ${expected.sha256} has SHA-256 ${actual}`,
      {
        context: { payloadId: expected.sha256 },
      },
    );
  }
}

// abortable yields from `source` until it ends or `signal` fires, even while
// the source is stuck waiting for a slow client.
async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  signal.throwIfAborted();
  const iterator = source[Symbol.asyncIterator]();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () =>
      reject(new PendulumError('CANCELLED', 'upload cancelled', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  let finished = false;
  try {
    for (;;) {
      let next: IteratorResult<T>;
      try {
        next = await Promise.race([iterator.next(), aborted]);
      } catch (error) {
        // The client's stream broke (disconnect, bad message): not a storage fault.
        throw error instanceof PendulumError
          ? error
          : PendulumError.from(error, 'CANCELLED').withPrefix('upload stream failed');
      }
      if (next.done === true) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Stop the source without waiting: a stuck one would never answer.
    if (!finished) void iterator.return?.().catch(() => undefined);
  }
}
