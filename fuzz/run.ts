// `npm run fuzz`: the fuzz campaign. Every property family of test/fuzz with
// many more inputs (1,000,000 in total by default), on every core, then a
// table of inputs, crashes and false acceptances per family. Exits non-zero
// on any crash, false acceptance or other violation.
//
//   npm run fuzz -- --inputs 200000 --workers 2 --seed 42 --only manifest-forgery,size-caps
//   FUZZ_INPUTS=50000 npm run fuzz
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { runCampaign } from './campaign.js';
import { formatDetails, formatFailures, formatTable } from './table.js';
import { failures } from './tally.js';

function options() {
  const { values } = parseArgs({
    options: {
      inputs: { type: 'string', default: process.env.FUZZ_INPUTS ?? '1000000' },
      workers: {
        type: 'string',
        default: process.env.FUZZ_WORKERS ?? String(availableParallelism()),
      },
      seed: { type: 'string', default: process.env.FUZZ_SEED ?? String(Date.now() % 2 ** 31) },
      only: { type: 'string', default: '' },
    },
  });
  const int = (name: string, text: string) => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0)
      throw new Error(`--${name} must be a whole number, not "${text}"`);
    return value;
  };
  return {
    total: int('inputs', values.inputs),
    workers: int('workers', values.workers),
    seed: int('seed', values.seed),
    only: values.only === '' ? [] : values.only.split(','),
  };
}

async function main(): Promise<number> {
  const opts = options();
  const started = performance.now();
  process.stdout.write(
    `fuzz: ${opts.total.toLocaleString('en-US')} inputs on ${opts.workers || 'no'} worker thread(s), seed ${opts.seed}\n`,
  );
  const result = await runCampaign({
    ...opts,
    onProgress: (inputs) => {
      const pct = ((100 * inputs) / Math.max(1, opts.total)).toFixed(1);
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      process.stdout.write(
        `fuzz: ${inputs.toLocaleString('en-US')} inputs (${pct}%) after ${seconds} s\n`,
      );
    },
  });
  process.stdout.write(
    `\n${formatTable(result.tallies)}\n(worker s: time in each family, summed over workers)\n` +
      `wall time ${(result.wallMs / 1000).toFixed(1)} s\n`,
  );
  process.stdout.write(`\nwhat the inputs ended as:\n${formatDetails(result.tallies)}\n`);
  const failed = result.tallies.reduce((sum, t) => sum + failures(t), 0);
  if (failed > 0) {
    process.stdout.write(
      `\n${failed} failing input(s); first counterexamples:\n${formatFailures(result.tallies)}\n`,
    );
    return 1;
  }
  process.stdout.write('\nno crashes, no false acceptances\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fuzz failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(2);
  },
);
