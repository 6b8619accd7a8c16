// Calls made in the same turn of the event loop, run together: one
// transaction (one commit, one journal write) for many small writes.
export interface Batcher<I, O> {
  // add queues `item` and resolves with its result once its batch has run.
  add(item: I): Promise<O>;
}

// createBatcher runs `run` on every item queued before the next setImmediate;
// `run` returns one result per item, in order; if it throws, every item fails.
export function createBatcher<I, O>(run: (items: readonly I[]) => Promise<O[]>): Batcher<I, O> {
  let queue: { item: I; resolve: (value: O) => void; reject: (error: unknown) => void }[] = [];
  const flush = () => {
    const batch = queue;
    queue = [];
    run(batch.map((entry) => entry.item)).then(
      (results) => {
        for (const [i, entry] of batch.entries()) entry.resolve(results[i] as O);
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error);
      },
    );
  };
  return {
    add(item) {
      return new Promise<O>((resolve, reject) => {
        if (queue.length === 0) setImmediate(flush);
        queue.push({ item, resolve, reject });
      });
    },
  };
}
