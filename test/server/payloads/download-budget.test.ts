// The download memory budget: large messages while few downloads are open,
// smaller ones as more open, never below the floor or above the maximum.
import { describe, expect, it } from 'vitest';
import {
  createDownloadBudget,
  heldChunksPerDownload,
  minDownloadChunk,
} from '../../../src/server/payloads/download-budget.js';

const MiB = 1024 * 1024;

describe('download memory budget', () => {
  it('gives a lone download the largest chunk', () => {
    const budget = createDownloadBudget(64 * MiB, MiB);
    const close = budget.open();
    expect(budget.chunk()).toBe(MiB);
    close();
  });

  it('shrinks every download’s chunk as more open, so all together stay near the budget', () => {
    const budget = createDownloadBudget(64 * MiB, MiB);
    const closes = Array.from({ length: 100 }, () => budget.open());
    const chunk = budget.chunk();
    expect(chunk).toBeLessThan(MiB);
    expect(100 * heldChunksPerDownload * chunk).toBeLessThanOrEqual(64 * MiB);
    for (const close of closes.splice(0, 99)) close();
    expect(budget.chunk()).toBe(MiB);
    closes[0]?.();
    expect(budget.size).toBe(0);
  });

  it('never goes below the floor, however many are open', () => {
    const budget = createDownloadBudget(64 * MiB, MiB);
    for (let i = 0; i < 10_000; i++) budget.open();
    expect(budget.chunk()).toBe(minDownloadChunk);
  });

  it('counts a download out once, however often it closes', () => {
    const budget = createDownloadBudget(64 * MiB, MiB);
    const close = budget.open();
    budget.open();
    close();
    close();
    expect(budget.size).toBe(1);
  });
});
