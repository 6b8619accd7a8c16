// A queue of stream events that never grows: an event whose kind is already
// waiting to be sent is dropped (a second heartbeat or check-in hint says
// nothing the first does not), so a device that reads slowly costs at most
// one event of each kind.

export interface EventQueue<T> {
  // push queues `event` unless one of the same `kind` is waiting.
  push(event: T, kind: string): void;
  // end stops drain(); events still waiting are dropped.
  end(): void;
  // drain yields events as they come until end().
  drain(): AsyncIterable<T>;
}

// createEventQueue makes an empty queue.
export function createEventQueue<T>(): EventQueue<T> {
  const waiting: { event: T; kind: string }[] = [];
  let ended = false;
  let wakeReader: (() => void) | undefined;
  const poke = () => {
    const resume = wakeReader;
    wakeReader = undefined;
    resume?.();
  };
  return {
    push(event, kind) {
      if (ended || waiting.some((w) => w.kind === kind)) return;
      waiting.push({ event, kind });
      poke();
    },
    end() {
      ended = true;
      waiting.length = 0;
      poke();
    },
    async *drain() {
      while (!ended) {
        const next = waiting.shift();
        if (next !== undefined) {
          yield next.event;
          continue;
        }
        await new Promise<void>((resolve) => {
          wakeReader = resolve;
        });
      }
    },
  };
}
