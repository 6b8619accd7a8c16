// Runs a fuzz family as a vitest test: its test-sized number of inputs, each
// of which must be accepted or refused with one of its codes.
import { it } from 'vitest';
import type { Family } from '../../fuzz/family.js';
import { strictJudge } from '../../fuzz/outcome.js';

// propertyTest declares one test named after what the family defends.
export function propertyTest(family: Family, numRuns = family.testRuns): void {
  it(`${family.defends} (${family.name}, ${numRuns} inputs)`, async () => {
    const trial = await family.open();
    try {
      const result = await trial.run(strictJudge, { numRuns });
      if (result.failed) throw new Error(`${family.name}: ${result.report}`);
    } finally {
      await trial.close();
    }
  });
}
