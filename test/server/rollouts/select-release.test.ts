// Which release a device is offered next: the pure choice, with no server.
import { describe, expect, it } from 'vitest';
import {
  type DeviceView,
  type ReleaseCandidate,
  selectRelease,
} from '../../../src/server/rollouts/select-release.js';

const now = new Date('2030-01-01T00:00:00Z');
const later = new Date(now.getTime() + 86_400_000);

function candidate(sequence: number, overrides: Partial<ReleaseCandidate> = {}): ReleaseCandidate {
  return {
    rolloutId: `rollout-${sequence}`,
    releaseId: `release-${sequence}`,
    sequence,
    expiresAt: later,
    createdAt: now,
    ...overrides,
  };
}

function device(committedSequence: number, attempted: string[] = []): DeviceView {
  return { committedSequence, attempted: new Set(attempted) };
}

describe('selectRelease', () => {
  it('offers the highest sequence among rollouts created at once, whatever order they come in', () => {
    const choice = selectRelease(device(1), [candidate(3), candidate(5), candidate(4)], now);
    expect(choice?.releaseId).toBe('release-5');
  });

  it('lets the newest matching rollout win over an older one with a higher sequence', () => {
    const older = candidate(5, { createdAt: new Date(now.getTime() - 60_000) });
    const newest = candidate(4, { createdAt: new Date(now.getTime() - 1_000) });
    expect(selectRelease(device(1), [older, newest], now)?.releaseId).toBe('release-4');
    // Once the device committed the newest's release, the older one is next.
    expect(selectRelease(device(4), [older, newest], now)?.releaseId).toBe('release-5');
  });

  it('never offers a release at or below the committed sequence (no downgrade)', () => {
    expect(selectRelease(device(5), [candidate(5), candidate(2)], now)).toBeUndefined();
    expect(selectRelease(device(5), [candidate(5), candidate(6)], now)?.releaseId).toBe(
      'release-6',
    );
  });

  it('does not offer again a release the device already attempted, and falls back to the next', () => {
    const choice = selectRelease(device(1, ['release-5']), [candidate(5), candidate(4)], now);
    expect(choice?.releaseId).toBe('release-4');
    expect(selectRelease(device(1, ['release-5']), [candidate(5)], now)).toBeUndefined();
  });

  it('does not offer an expired release, nor one expiring this very instant', () => {
    const expired = candidate(9, { expiresAt: new Date(now.getTime() - 1) });
    const expiringNow = candidate(8, { expiresAt: now });
    expect(selectRelease(device(1), [expired, expiringNow, candidate(2)], now)?.releaseId).toBe(
      'release-2',
    );
    expect(selectRelease(device(1), [expired, expiringNow], now)).toBeUndefined();
  });

  it('offers nothing when there are no rollouts', () => {
    expect(selectRelease(device(0), [], now)).toBeUndefined();
  });

  it('keeps the rollout the chosen release came from', () => {
    const choice = selectRelease(device(0), [candidate(3, { rolloutId: 'canary' })], now);
    expect(choice).toEqual(candidate(3, { rolloutId: 'canary' }));
  });
});
