// A campaign worker thread: runs the shards it is handed, one at a time,
// keeping each family's trial open between shards, and reports counts.
import { parentPort } from 'node:worker_threads';
import { families } from './families/index.js';
import type { Trial } from './family.js';
import { runShard, type Shard } from './tally.js';

const port = parentPort;
if (port === null) throw new Error('fuzz/worker.js runs as a worker thread of fuzz/run.js');

const trials = new Map<string, Trial>();

async function handle(shard: Shard | null): Promise<void> {
  if (shard === null) {
    for (const trial of trials.values()) await trial.close();
    port?.close();
    return;
  }
  const family = families.find((f) => f.name === shard.family);
  if (family === undefined) throw new Error(`unknown family ${shard.family}`);
  let trial = trials.get(family.name);
  if (trial === undefined) {
    trial = await family.open();
    trials.set(family.name, trial);
  }
  let pending = 0;
  let sent = performance.now();
  const tally = await runShard(family, trial, shard, () => {
    pending++;
    if ((pending & 255) === 0 && performance.now() - sent > 1000) {
      port?.postMessage({ type: 'progress', inputs: pending });
      pending = 0;
      sent = performance.now();
    }
  });
  port?.postMessage({ type: 'progress', inputs: pending });
  port?.postMessage({ type: 'done', tally });
}

port.on('message', (shard: Shard | null) => {
  handle(shard).catch((error: unknown) => {
    throw error;
  });
});
port.postMessage({ type: 'idle' });
