// Token buckets in memory, keyed by peer address or device key: a cheap
// refusal before any expensive work (signature checks, database writes).
// Per server process; each replica limits on its own.
import { PendulumError } from '../errors.js';

export interface RateLimiter {
  // take spends one attempt for `key` at `nowMs`, or throws RATE_LIMITED
  // saying when the next attempt will be allowed.
  take(key: string, what: string, nowMs: number): void;
}

// Buckets kept at most; the least recently used are forgotten first (a
// forgotten key starts with a full bucket, which only ever errs towards letting in).
const defaultMaxKeys = 100_000;

// createRateLimiter allows `perMinute` attempts per key per minute, in bursts
// of up to `perMinute`.
export function createRateLimiter(perMinute: number, maxKeys = defaultMaxKeys): RateLimiter {
  const refillPerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; atMs: number }>();
  return {
    take(key, what, nowMs) {
      const bucket = buckets.get(key) ?? { tokens: perMinute, atMs: nowMs };
      buckets.delete(key);
      const tokens = Math.min(perMinute, bucket.tokens + (nowMs - bucket.atMs) * refillPerMs);
      if (tokens < 1) {
        buckets.set(key, { tokens, atMs: nowMs });
        const retryInMs = Math.ceil((1 - tokens) / refillPerMs);
        throw new PendulumError(
          'RATE_LIMITED',
          `too many authentication attempts from ${what}; retry in ${Math.ceil(retryInMs / 1000)} s`,
          { context: { retryInMs } },
        );
      }
      buckets.set(key, { tokens: tokens - 1, atMs: nowMs });
      if (buckets.size > maxKeys) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
    },
  };
}

// peerAddress drops the port from a gRPC peer ("ipv4:10.0.0.7:51234",
// "ipv6:[::1]:51234"), so one host's connections share a bucket.
export function peerAddress(peer: string): string {
  const at = peer.lastIndexOf(':');
  return at > peer.indexOf(':') ? peer.slice(0, at) : peer;
}
