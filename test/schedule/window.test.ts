// Maintenance windows: open on a cron schedule in a time zone for a
// duration, across daylight-saving changes; bad specs refused.
import { describe, expect, it } from 'vitest';
import { parseWindow } from '../../src/schedule/window.js';

const hour = 3_600_000;
// 02:00-04:00 every night, Berlin time.
const nightly = parseWindow({ cron: '0 2 * * *', durationMs: 2 * hour, timezone: 'Europe/Berlin' });
const at = (iso: string) => new Date(iso);

describe('maintenance windows', () => {
  it('is open from its start for its duration, in its time zone', () => {
    // Winter: Berlin is UTC+1, so the window is 01:00-03:00 UTC.
    expect(nightly.isOpen(at('2026-01-15T00:59:59Z'))).toBe(false);
    expect(nightly.isOpen(at('2026-01-15T01:00:00Z'))).toBe(true);
    expect(nightly.isOpen(at('2026-01-15T02:59:59Z'))).toBe(true);
    expect(nightly.isOpen(at('2026-01-15T03:00:00Z'))).toBe(false);
    // Summer: UTC+2, so 00:00-02:00 UTC.
    expect(nightly.isOpen(at('2026-07-15T00:30:00Z'))).toBe(true);
    expect(nightly.isOpen(at('2026-07-15T02:30:00Z'))).toBe(false);
  });

  it('opens at the next local time there is on the night clocks spring forward', () => {
    // 2026-03-29 has no 02:00 in Berlin; the window opens at 03:00 CEST (01:00 UTC).
    expect(nightly.nextOpen(at('2026-03-28T12:00:00Z'))).toEqual(at('2026-03-29T01:00:00Z'));
    expect(nightly.isOpen(at('2026-03-29T00:59:59Z'))).toBe(false);
  });

  it('is closed half a second before it opens', () => {
    expect(nightly.isOpen(at('2026-01-15T00:59:59.500Z'))).toBe(false);
  });

  it('says when it opens next', () => {
    expect(nightly.nextOpen(at('2026-01-15T12:00:00Z'))).toEqual(at('2026-01-16T01:00:00Z'));
    const inside = at('2026-01-15T01:30:00Z');
    expect(nightly.nextOpen(inside)).toEqual(inside);
  });

  it('stays open across midnight when it starts late', () => {
    const late = parseWindow({ cron: '0 23 * * 6', durationMs: 3 * hour, timezone: 'UTC' });
    // Saturday 2026-01-17 23:00 UTC to Sunday 02:00.
    expect(late.isOpen(at('2026-01-18T01:59:00Z'))).toBe(true);
    expect(late.isOpen(at('2026-01-18T02:00:00Z'))).toBe(false);
    expect(late.isOpen(at('2026-01-17T12:00:00Z'))).toBe(false);
  });

  it.each([
    [
      'a cron field out of range',
      { cron: '61 * * * *', durationMs: hour, timezone: 'UTC' },
      'cron',
    ],
    ['a six-field cron', { cron: '0 0 2 * * *', durationMs: hour, timezone: 'UTC' }, 'cron'],
    [
      'an unknown time zone',
      { cron: '0 2 * * *', durationMs: hour, timezone: 'Mars/Base' },
      'timezone',
    ],
    ['a zero duration', { cron: '0 2 * * *', durationMs: 0, timezone: 'UTC' }, 'duration'],
    [
      'a duration over a week',
      { cron: '0 2 * * *', durationMs: 8 * 24 * hour, timezone: 'UTC' },
      'duration',
    ],
  ])('refuses %s', (_name, spec, field) => {
    expect(() => parseWindow(spec)).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', context: { field } }),
    );
  });
});
