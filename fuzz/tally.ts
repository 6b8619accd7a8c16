// Counting outcomes per family, and running one shard of a family in counting mode.
import type { Family, Trial } from './family.js';
import { type Judge, type Outcome, strictJudge } from './outcome.js';

export interface Tally {
  readonly family: string;
  inputs: number;
  accepted: number;
  refused: number;
  crashes: number;
  falseAcceptances: number;
  violations: number;
  // Refusals by code (or decode error), acceptances by kind.
  readonly details: Record<string, number>;
  // fast-check reports of shrunk failures, to replay with their seed and path.
  readonly reports: string[];
  // Time spent in this family, summed over workers.
  ms: number;
}

export function emptyTally(family: string): Tally {
  return {
    family,
    inputs: 0,
    accepted: 0,
    refused: 0,
    crashes: 0,
    falseAcceptances: 0,
    violations: 0,
    details: {},
    reports: [],
    ms: 0,
  };
}

// failures is what makes a campaign fail.
export function failures(tally: Tally): number {
  return tally.crashes + tally.falseAcceptances + tally.violations;
}

// addTally adds `from` into `into`.
export function addTally(into: Tally, from: Tally): void {
  into.inputs += from.inputs;
  into.accepted += from.accepted;
  into.refused += from.refused;
  into.crashes += from.crashes;
  into.falseAcceptances += from.falseAcceptances;
  into.violations += from.violations;
  into.ms += from.ms;
  for (const [key, n] of Object.entries(from.details))
    into.details[key] = (into.details[key] ?? 0) + n;
  into.reports.push(...from.reports.slice(0, Math.max(0, 3 - into.reports.length)));
}

function count(tally: Tally, outcome: Outcome): void {
  tally.inputs++;
  switch (outcome.verdict) {
    case 'accepted':
      tally.accepted++;
      break;
    case 'refused':
      tally.refused++;
      break;
    case 'crash':
      tally.crashes++;
      break;
    case 'false-acceptance':
      tally.falseAcceptances++;
      break;
    case 'violation':
      tally.violations++;
      break;
  }
  const key =
    outcome.verdict === 'refused' || outcome.verdict === 'accepted'
      ? outcome.detail
      : `${outcome.verdict}: ${outcome.detail.split(' (')[0]?.slice(0, 70)}`;
  tally.details[key] = (tally.details[key] ?? 0) + 1;
}

export interface Shard {
  readonly family: string;
  readonly numRuns: number;
  readonly seed: number;
}

// runShard runs one shard counting every outcome; when something failed it
// runs the same seed again, strictly, so fast-check shrinks the first failure.
export async function runShard(
  family: Family,
  trial: Trial,
  shard: Shard,
  onInput: () => void,
): Promise<Tally> {
  const tally = emptyTally(family.name);
  const started = performance.now();
  const judge: Judge = (outcome) => {
    count(tally, outcome);
    onInput();
    return true;
  };
  const result = await trial.run(judge, {
    numRuns: shard.numRuns,
    seed: shard.seed,
    shrink: false,
  });
  if (result.failed) {
    // Counting never fails a run: fast-check saw a hang or a fuzzer bug.
    tally.crashes++;
    tally.reports.push(result.report);
  } else if (failures(tally) > 0) {
    const strict = await trial.run(strictJudge, { numRuns: shard.numRuns, seed: shard.seed });
    tally.reports.push(
      strict.failed ? strict.report : `seed ${shard.seed}: failure did not replay`,
    );
  }
  tally.ms = performance.now() - started;
  return tally;
}
