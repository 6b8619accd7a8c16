// The campaign script's machinery on a small total: every family gets inputs,
// counts add up, and the table names every family.
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../fuzz/campaign.js';
import { families } from '../../fuzz/families/index.js';
import { formatTable } from '../../fuzz/table.js';
import { failures } from '../../fuzz/tally.js';

describe('fuzz campaign', () => {
  it('runs every family and counts every input once', async () => {
    const result = await runCampaign({ total: 400, workers: 0, seed: 1 });
    expect(result.tallies.map((t) => t.family)).toEqual(families.map((f) => f.name));
    for (const tally of result.tallies) {
      expect(tally.inputs).toBeGreaterThan(0);
      expect(tally.accepted + tally.refused + failures(tally)).toBe(tally.inputs);
      expect(failures(tally)).toBe(0);
    }
    const total = result.tallies.reduce((sum, t) => sum + t.inputs, 0);
    expect(total).toBeGreaterThanOrEqual(400);
    const table = formatTable(result.tallies);
    for (const family of families) expect(table).toContain(family.name);
  });
});
