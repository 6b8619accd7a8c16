// WAL checkpoints on a thread of their own. SQLite checkpoints inside the
// commit that crosses its threshold, on the committing thread: with
// better-sqlite3 that is the event loop, held for two fsyncs and a few
// megabytes of writes (hundreds of milliseconds on a busy disk), every
// request waiting. A worker thread with its own connection checkpoints
// instead; the server's connection keeps a far threshold only as a backstop.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

export interface Checkpointer {
  // stop ends the worker (the server's connection checkpoints on close).
  stop(): Promise<void>;
}

// The worker: a connection of its own, a PASSIVE checkpoint (it never waits
// for or blocks the server's connection) every `intervalMs`.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.module);
const db = new SQLite(workerData.path);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage(String(error && error.message ? error.message : error));
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

// startCheckpointer checkpoints the database at `path` every `intervalMs`.
export function startCheckpointer(path: string, intervalMs: number, log: Logger): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { path, module, intervalMs },
  });
  // A failed checkpoint loses nothing (the WAL keeps every commit): say so and go on.
  worker.on('message', (message: string) =>
    log.warn({ err: message, file: path }, 'database checkpoint failed'),
  );
  worker.on('error', (error) =>
    log.error({ err: error, file: path }, 'database checkpoint thread failed'),
  );
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // Not what keeps a process alive while it runs; stopping it is awaited,
  // so it is again for that (an unref'd worker awaited with nothing else
  // pending lets Node exit, silently, mid-close).
  worker.unref();
  return {
    async stop() {
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
