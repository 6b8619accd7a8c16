// The fuzz campaign: every family's share of the total inputs, cut into
// shards with their own seeds, run on worker threads (or in this thread) and
// counted.
import { Worker } from 'node:worker_threads';
import { families as allFamilies } from './families/index.js';
import type { Family, Trial } from './family.js';
import { addTally, emptyTally, runShard, type Shard, type Tally } from './tally.js';

export interface CampaignOptions {
  readonly total: number;
  // 0 runs every shard in this thread.
  readonly workers: number;
  readonly seed: number;
  readonly only?: readonly string[];
  // Told about progress every `progressMs` (default 10 s).
  readonly onProgress?: (inputs: number) => void;
  readonly progressMs?: number;
}

export interface CampaignResult {
  readonly tallies: readonly Tally[];
  readonly wallMs: number;
}

// A worker silent for this long is stuck on one input: a hang.
const hangMs = 120_000;

// selectFamilies returns the families to run, in table order.
export function selectFamilies(only?: readonly string[]): readonly Family[] {
  if (only === undefined || only.length === 0) return allFamilies;
  const unknown = only.filter((name) => !allFamilies.some((f) => f.name === name));
  if (unknown.length > 0) throw new Error(`unknown fuzz families: ${unknown.join(', ')}`);
  return allFamilies.filter((f) => only.includes(f.name));
}

// planShards gives each family its share of `total` (at least one input;
// largest remainders round up, so the shares add up to `total`) and cuts it
// into shards small enough to spread over the workers.
export function planShards(
  families: readonly Family[],
  total: number,
  workers: number,
  seed: number,
) {
  const shares = families.reduce((sum, f) => sum + f.share, 0);
  const exact = families.map((f) => (total * f.share) / shares);
  const runsOf = exact.map((x) => Math.floor(x));
  const left = total - runsOf.reduce((sum, n) => sum + n, 0);
  const byRemainder = exact
    .map((x, i) => [x - Math.floor(x), i] as const)
    .sort((a, b) => b[0] - a[0]);
  for (const [, i] of byRemainder.slice(0, left)) runsOf[i] = (runsOf[i] ?? 0) + 1;
  const shards: Shard[] = [];
  families.forEach((family, i) => {
    const runs = Math.max(1, runsOf[i] ?? 0);
    const pieces = Math.max(1, Math.min(Math.ceil(runs / 2_000), Math.max(1, workers) * 4));
    for (let p = 0; p < pieces; p++) {
      const numRuns = Math.floor(runs / pieces) + (p < runs % pieces ? 1 : 0);
      if (numRuns > 0)
        shards.push({ family: family.name, numRuns, seed: (seed + i * 1_000 + p) | 0 });
    }
  });
  // Small shares are the expensive families: those first, so the last shards
  // to finish are short ones.
  const share = (shard: Shard) => families.find((f) => f.name === shard.family)?.share ?? 1;
  return shards.sort((a, b) => share(a) - share(b));
}

// runCampaign runs the planned shards and returns one tally per family.
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const families = selectFamilies(options.only);
  const shards = planShards(families, options.total, options.workers, options.seed);
  const tallies = new Map(families.map((f) => [f.name, emptyTally(f.name)]));
  const started = performance.now();
  let inputs = 0;
  let reported = 0;
  const progress = (n: number) => {
    inputs += n;
    if (performance.now() - reported > (options.progressMs ?? 10_000)) {
      reported = performance.now();
      options.onProgress?.(inputs);
    }
  };
  const done = (tally: Tally) =>
    addTally(tallies.get(tally.family) ?? emptyTally(tally.family), tally);
  if (options.workers === 0) await runInline(families, shards, progress, done);
  else await runOnWorkers(options.workers, shards, progress, done);
  options.onProgress?.(inputs);
  return {
    tallies: families.map((f) => tallies.get(f.name) ?? emptyTally(f.name)),
    wallMs: performance.now() - started,
  };
}

// runInline runs shards one after the other in this thread.
export async function runInline(
  families: readonly Family[],
  shards: readonly Shard[],
  progress: (n: number) => void,
  done: (tally: Tally) => void,
): Promise<void> {
  const trials = new Map<string, Trial>();
  try {
    for (const shard of shards) {
      const family = families.find((f) => f.name === shard.family);
      if (family === undefined) continue;
      let trial = trials.get(family.name);
      if (trial === undefined) {
        trial = await family.open();
        trials.set(family.name, trial);
      }
      let pending = 0;
      const tally = await runShard(family, trial, shard, () => {
        if (++pending === 256) {
          progress(pending);
          pending = 0;
        }
      });
      progress(pending);
      done(tally);
    }
  } finally {
    for (const trial of trials.values()) await trial.close();
  }
}

type FromWorker =
  | { readonly type: 'progress'; readonly inputs: number }
  | { readonly type: 'done'; readonly tally: Tally }
  | { readonly type: 'idle' };

// runOnWorkers hands shards to worker threads as they become free.
function runOnWorkers(
  count: number,
  shards: readonly Shard[],
  progress: (n: number) => void,
  done: (tally: Tally) => void,
): Promise<void> {
  const queue = [...shards];
  return new Promise((resolve, reject) => {
    let running = 0;
    const start = () => {
      const worker = new Worker(new URL('./worker.js', import.meta.url));
      running++;
      let current: Shard | undefined;
      let heard = performance.now();
      const watchdog = setInterval(() => {
        if (performance.now() - heard < hangMs || current === undefined) return;
        const hung = emptyTally(current.family);
        hung.crashes = 1;
        hung.reports.push(
          `hang: no progress for ${hangMs / 1000} s in ${current.family} (seed ${current.seed})`,
        );
        done(hung);
        current = undefined;
        void worker.terminate();
      }, 5_000);
      const next = () => {
        current = queue.shift();
        heard = performance.now();
        worker.postMessage(current ?? null);
      };
      worker.on('message', (message: FromWorker) => {
        heard = performance.now();
        if (message.type === 'progress') progress(message.inputs);
        else if (message.type === 'done') {
          done(message.tally);
          next();
        } else next();
      });
      worker.on('error', reject);
      worker.on('exit', () => {
        clearInterval(watchdog);
        running--;
        if (queue.length > 0) start();
        else if (running === 0) resolve();
      });
    };
    for (let i = 0; i < Math.min(count, shards.length); i++) start();
    if (shards.length === 0) resolve();
  });
}
