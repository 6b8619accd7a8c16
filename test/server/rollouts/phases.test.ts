// Rollout phases: deterministic membership, cumulative phases a device never
// leaves, selectors, soak times and failure thresholds.
import { describe, expect, it } from 'vitest';
import {
  breaches,
  bucketCount,
  bucketOf,
  checkPhases,
  mayAdvance,
  type Phase,
  phaseOf,
  selects,
} from '../../../src/server/rollouts/phases.js';

const hour = 3_600_000;
const phases: Phase[] = [
  { percent: 5, minSoakMs: hour },
  { percent: 25, minSoakMs: 2 * hour },
  { percent: 100, minSoakMs: 0 },
];
const devices = Array.from({ length: 20_000 }, (_, i) => `device-${i}`);

describe('rollout membership', () => {
  it('places a device by a hash of the rollout and device ids, the same every time', () => {
    expect(bucketOf('r1', 'device-7')).toBe(bucketOf('r1', 'device-7'));
    const buckets = devices.map((d) => bucketOf('r1', d));
    expect(buckets.every((b) => Number.isInteger(b) && b >= 0 && b < bucketCount)).toBe(true);
    // Another rollout shuffles the fleet differently.
    const other = devices.map((d) => bucketOf('r2', d));
    expect(other.filter((b, i) => b === buckets[i]).length).toBeLessThan(20);
  });

  it("reaches about each phase's share of the fleet", () => {
    const share = (current: number) =>
      devices.filter((d) => phaseOf(bucketOf('r1', d), phases, current) !== undefined).length /
      devices.length;
    expect(share(0)).toBeGreaterThan(0.04);
    expect(share(0)).toBeLessThan(0.06);
    expect(share(1)).toBeGreaterThan(0.23);
    expect(share(1)).toBeLessThan(0.27);
    expect(share(2)).toBe(1);
  });

  it('never moves a device out of a phase it was in as later phases open', () => {
    for (const d of devices.slice(0, 2_000)) {
      const bucket = bucketOf('r1', d);
      let seen: number | undefined;
      for (let current = 0; current < phases.length; current++) {
        const phase = phaseOf(bucket, phases, current);
        if (seen !== undefined) expect(phase).toBe(seen);
        seen = phase ?? seen;
      }
      expect(seen).toBeDefined();
    }
  });
});

describe('phase lists', () => {
  it('accepts cumulative phases ending at 100 %', () => {
    expect(() => checkPhases(phases)).not.toThrow();
  });

  it.each([
    ['no phases', []],
    [
      'a share of 0',
      [
        { percent: 0, minSoakMs: 0 },
        { percent: 100, minSoakMs: 0 },
      ],
    ],
    ['a share above 100', [{ percent: 101, minSoakMs: 0 }]],
    [
      'a share going down',
      [
        { percent: 50, minSoakMs: 0 },
        { percent: 10, minSoakMs: 0 },
        { percent: 100, minSoakMs: 0 },
      ],
    ],
    ['a negative soak', [{ percent: 100, minSoakMs: -1 }]],
    [
      'a last phase short of 100 %',
      [
        { percent: 5, minSoakMs: 0 },
        { percent: 50, minSoakMs: 0 },
      ],
    ],
  ] as [string, Phase[]][])('refuses %s', (_name, list) => {
    expect(() => checkPhases(list)).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('starts the next phase only after the current one has soaked', () => {
    const started = new Date('2026-01-01T00:00:00Z');
    expect(mayAdvance(phases, 0, started, new Date(started.getTime() + hour - 1))).toBe(false);
    expect(mayAdvance(phases, 0, started, new Date(started.getTime() + hour))).toBe(true);
    expect(mayAdvance(phases, 2, started, new Date(started.getTime() + 100 * hour))).toBe(false);
  });
});

describe('selectors', () => {
  const device = { id: 'd1', classId: 'gw', tags: ['eu', 'beta'], groups: ['lab'] };
  const selector = { classId: 'gw', tags: [], groups: [], deviceIds: [] };

  it('takes every device of the class when it asks nothing more', () => {
    expect(selects(selector, device)).toBe(true);
    expect(selects(selector, { ...device, classId: 'other' })).toBe(false);
  });

  it('needs every tag and one of the groups', () => {
    expect(selects({ ...selector, tags: ['eu', 'beta'] }, device)).toBe(true);
    expect(selects({ ...selector, tags: ['eu', 'us'] }, device)).toBe(false);
    expect(selects({ ...selector, groups: ['field', 'lab'] }, device)).toBe(true);
    expect(selects({ ...selector, groups: ['field'] }, device)).toBe(false);
  });

  it('takes named devices, and with only names given, only them', () => {
    expect(selects({ ...selector, deviceIds: ['d1'] }, device)).toBe(true);
    expect(selects({ ...selector, deviceIds: ['d2'] }, device)).toBe(false);
    expect(selects({ ...selector, groups: ['field'], deviceIds: ['d1'] }, device)).toBe(true);
    expect(selects({ ...selector, deviceIds: ['d1'] }, { ...device, classId: 'other' })).toBe(
      false,
    );
  });
});

describe('failure thresholds', () => {
  it('pauses on a count of failures', () => {
    expect(breaches({ kind: 'count', count: 3 }, { succeeded: 100, failed: 2 })).toBe(false);
    expect(breaches({ kind: 'count', count: 3 }, { succeeded: 100, failed: 3 })).toBe(true);
  });

  it('pauses on a ratio once enough devices finished', () => {
    const threshold = { kind: 'ratio' as const, ratio: 0.1, minFinished: 10 };
    expect(breaches(threshold, { succeeded: 2, failed: 3 })).toBe(false);
    expect(breaches(threshold, { succeeded: 9, failed: 1 })).toBe(false);
    expect(breaches(threshold, { succeeded: 8, failed: 2 })).toBe(true);
  });
});
