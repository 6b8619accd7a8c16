// Polling and retrying never turn into a tight loop, and a fleet never polls in step.
import { describe, expect, it } from 'vitest';
import { backoffDelay, isTransient, jittered } from '../../src/device/retry.js';
import { PendulumError } from '../../src/errors.js';

const policy = { minMs: 5_000, maxMs: 600_000 };

describe('backoff', () => {
  it('doubles after each failure, within a jittered band, up to the cap', () => {
    for (let failures = 1; failures <= 12; failures++) {
      const ceiling = Math.min(policy.maxMs, policy.minMs * 2 ** (failures - 1));
      expect(backoffDelay(failures, policy, () => 0)).toBe(ceiling / 2);
      expect(backoffDelay(failures, policy, () => 0.999999)).toBeLessThanOrEqual(ceiling);
    }
    expect(backoffDelay(1000, policy, () => 1)).toBe(policy.maxMs);
  });

  it('never waits less than half the minimum, even at the first failure', () => {
    expect(backoffDelay(1, policy, () => 0)).toBeGreaterThanOrEqual(policy.minMs / 2);
    expect(backoffDelay(0, policy, () => 0)).toBeGreaterThanOrEqual(policy.minMs / 2);
  });
});

describe('poll jitter', () => {
  it('spreads the interval by at most the configured fraction either way', () => {
    expect(jittered(60_000, 0.2, () => 0)).toBe(48_000);
    expect(jittered(60_000, 0.2, () => 1)).toBe(72_000);
    expect(jittered(60_000, 0, () => 0.3)).toBe(60_000);
  });
});

describe('what is retried', () => {
  it('retries "not now" errors and fails the deployment on the rest', () => {
    expect(isTransient(new PendulumError('UNAVAILABLE', 'down'))).toBe(true);
    expect(isTransient(new PendulumError('UNAUTHENTICATED', 'token expired'))).toBe(true);
    expect(isTransient(new PendulumError('DIGEST_MISMATCH', 'bad'))).toBe(false);
    expect(isTransient(new PendulumError('SIGNATURE_INVALID', 'bad'))).toBe(false);
    expect(isTransient(new PendulumError('SLOT_WRITE_FAILED', 'EIO'))).toBe(false);
    // A server that trickles would otherwise be retried for ever (slow retrieval).
    expect(isTransient(new PendulumError('TOO_SLOW', 'slow retrieval'))).toBe(false);
  });
});
