// A property family: an input generator and a check that says what the code
// under test did with each input. test/fuzz runs each with a few runs that
// must all pass; fuzz/run.ts runs them with many and counts the outcomes.
import fc from 'fast-check';
import { installVerifyMemo } from './ed25519.js';
import type { Judge, Outcome } from './outcome.js';

export interface Family {
  // Short, kebab-case: the row in the campaign table.
  readonly name: string;
  // The rule it defends, as a test name.
  readonly defends: string;
  // Relative share of the campaign's inputs (cheap families get more).
  readonly share: number;
  // Runs in `npm test`.
  readonly testRuns: number;
  open(): Promise<Trial>;
}

export interface Trial {
  run(judge: Judge, options: RunOptions): Promise<RunResult>;
  close(): Promise<void>;
}

export interface RunOptions {
  readonly numRuns: number;
  readonly seed?: number;
  // Shrink a failure to a small counterexample (off when only counting).
  readonly shrink?: boolean;
}

export interface RunResult {
  readonly failed: boolean;
  readonly numRuns: number;
  readonly seed: number;
  // fast-check's report of a failure: counterexample, seed and path to replay.
  readonly report: string;
}

// Each async input gets this long before it counts as a hang.
const asyncTimeoutMs = 20_000;

interface SyncSpec<T> {
  readonly name: string;
  readonly defends: string;
  readonly share: number;
  readonly testRuns: number;
  readonly arbitrary: () => fc.Arbitrary<T>;
  readonly check: (input: T) => Outcome;
}

// defineFamily makes a family of a pure, synchronous check.
export function defineFamily<T>(spec: SyncSpec<T>): Family {
  return {
    name: spec.name,
    defends: spec.defends,
    share: spec.share,
    testRuns: spec.testRuns,
    async open() {
      installVerifyMemo();
      const arbitrary = spec.arbitrary();
      return {
        async run(judge, options) {
          const property = fc.property(arbitrary, (input) => judge(spec.check(input)));
          return summarise(fc.check(property, parameters(options)));
        },
        async close() {},
      };
    },
  };
}

interface AsyncSpec<T, S> {
  readonly name: string;
  readonly defends: string;
  readonly share: number;
  readonly testRuns: number;
  readonly open: () => Promise<S>;
  readonly close: (state: S) => Promise<void>;
  readonly arbitrary: (state: S) => fc.Arbitrary<T>;
  readonly check: (state: S, input: T) => Promise<Outcome>;
}

// defineAsyncFamily makes a family whose check needs state opened first (a server).
export function defineAsyncFamily<T, S>(spec: AsyncSpec<T, S>): Family {
  return {
    name: spec.name,
    defends: spec.defends,
    share: spec.share,
    testRuns: spec.testRuns,
    async open() {
      installVerifyMemo();
      const state = await spec.open();
      const arbitrary = spec.arbitrary(state);
      return {
        async run(judge, options) {
          const property = fc.asyncProperty(arbitrary, async (input) =>
            judge(await spec.check(state, input)),
          );
          return summarise(
            await fc.check(property, { ...parameters(options), timeout: asyncTimeoutMs }),
          );
        },
        close: () => spec.close(state),
      };
    },
  };
}

function parameters(options: RunOptions): fc.Parameters<unknown> {
  return {
    numRuns: options.numRuns,
    includeErrorInReport: true,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.shrink === false ? { endOnFailure: true } : {}),
  };
}

function summarise<T>(details: fc.RunDetails<T>): RunResult {
  return {
    failed: details.failed,
    numRuns: details.numRuns,
    seed: details.seed,
    report: details.failed ? (fc.defaultReportMessage(details) ?? 'failed') : '',
  };
}
