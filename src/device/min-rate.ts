// Slow retrieval (TUF): a server that sends a byte just inside the idle
// timeout holds a device for ever. A stream must bring `minBytesPerSec` over
// each full window and end within its deadline; otherwise `onSlow` cancels it
// and the iteration fails with TOO_SLOW, which fails the deployment rather
// than resuming it.
import { PendulumError } from '../errors.js';

export interface MinRate<T> {
  readonly minBytesPerSec: number;
  // The rate is judged over each window of this length, from the first request.
  readonly windowMs: number;
  // The longest the whole stream may take, from the first request to its end.
  readonly deadlineMs: number;
  // Names the stream in messages ("payload download").
  readonly what: string;
  // How many bytes an item carries.
  readonly bytes: (item: T) => number;
  // Cancels the stream.
  readonly onSlow: () => void;
}

// withMinRate yields what `source` yields, failing when it is too slow.
export async function* withMinRate<T>(
  source: AsyncIterable<T>,
  limits: MinRate<T>,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  let total = 0;
  let inWindow = 0;
  let failure: PendulumError | undefined;
  let fail: (error: PendulumError) => void = () => undefined;
  const slow = new Promise<never>((_, reject) => {
    fail = reject;
  });
  // Rejected while the consumer holds an item: the next turn of the loop throws it.
  slow.catch(() => undefined);
  const abort = (error: PendulumError) => {
    if (failure !== undefined) return;
    failure = error;
    limits.onSlow();
    fail(error);
  };
  const window = setInterval(() => {
    if (inWindow < (limits.minBytesPerSec * limits.windowMs) / 1000) {
      abort(
        new PendulumError(
          'TOO_SLOW',
          `${limits.what}: ${inWindow} bytes in the last ${seconds(limits.windowMs)} s (${rate(inWindow, limits.windowMs)} B/s), below the minimum of ${limits.minBytesPerSec} B/s (slow retrieval)`,
          {
            context: {
              bytes: inWindow,
              window_ms: limits.windowMs,
              min_bytes_per_sec: limits.minBytesPerSec,
            },
          },
        ),
      );
    }
    inWindow = 0;
  }, limits.windowMs);
  const deadline = setTimeout(() => {
    abort(
      new PendulumError(
        'TOO_SLOW',
        `${limits.what}: not finished within its deadline of ${seconds(limits.deadlineMs)} s, ${total} bytes so far (${rate(total, limits.deadlineMs)} B/s) (slow retrieval)`,
        { context: { bytes: total, deadline_ms: limits.deadlineMs } },
      ),
    );
  }, limits.deadlineMs);
  try {
    while (true) {
      if (failure !== undefined) throw failure;
      const next = await Promise.race([iterator.next(), slow]);
      if (next.done) {
        finished = true;
        return;
      }
      total += limits.bytes(next.value);
      inWindow += limits.bytes(next.value);
      yield next.value;
    }
  } finally {
    clearInterval(window);
    clearTimeout(deadline);
    // Not awaited, as in withIdleTimeout: `onSlow` has cancelled the stream.
    if (!finished) iterator.return?.(undefined).catch(() => undefined);
  }
}

const seconds = (ms: number) => `${ms / 1000}`;

// rate in bytes per second, to two significant digits below 10.
function rate(bytes: number, ms: number): string {
  const perSec = (bytes * 1000) / ms;
  return perSec >= 10 ? `${Math.round(perSec)}` : `${Number(perSec.toPrecision(2))}`;
}
