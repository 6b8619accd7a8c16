// Freshness: the server's signed statement of the time, made for one check-in
// (TUF's timestamp role, bound to one request). The server signs it with the
// online timestamp key; the device checks it against the trust root's
// timestamp keys, the nonce it sent and the offer in the same reply, and uses
// its time as a floor for its own clock. Pure: bytes, keys and times in.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { PendulumError } from '../errors.js';
import type { Offer } from '../gen/pendulum/v1/device_pb.js';
import { type Freshness, FreshnessSchema, type Signed } from '../gen/pendulum/v1/manifest_pb.js';
import { sha256 } from './digest.js';
import { checkEnvelope } from './envelope.js';
import { verifyThreshold } from './signatures.js';
import type { TrustRootContent } from './trust-root.js';

export const freshnessType = 'pendulum.v1.Freshness';
// A statement larger than this is refused before it is parsed.
export const maxFreshnessBytes = 4 * 1024;
// The nonce a device sends with each check-in.
export const minNonceBytes = 16;
export const maxNonceBytes = 64;
// A statement may not claim to stay valid longer than this.
export const maxFreshnessTtlMs = 24 * 60 * 60 * 1000;

export interface FreshnessClaim {
  readonly time: Date;
  readonly expiresAt: Date;
  readonly deviceId: string;
  readonly nonce: Uint8Array;
  // The offer in the same reply, or undefined.
  readonly offer: Offer | undefined;
}

// encodeFreshness serialises the statement for one reply, ready to sign.
export function encodeFreshness(claim: FreshnessClaim): Uint8Array {
  return toBinary(
    FreshnessSchema,
    create(FreshnessSchema, {
      time: timestampFromDate(claim.time),
      expires: timestampFromDate(claim.expiresAt),
      deviceId: claim.deviceId,
      nonce: claim.nonce,
      ...offerBinding(claim.offer),
    }),
  );
}

export interface FreshnessExpectation {
  readonly deviceId: string;
  readonly nonce: Uint8Array;
  readonly offer: Offer | undefined;
  // The device's clock: its own, or its clock floor when that is later.
  readonly now: Date;
}

// verifyFreshness checks a reply's statement: signed by a threshold of the
// root's timestamp keys, for this device, this request and this offer, and
// not expired. It returns the server's time, the device's new clock floor.
export function verifyFreshness(
  signed: Signed | undefined,
  root: TrustRootContent,
  expected: FreshnessExpectation,
): { time: Date; expiresAt: Date } {
  if (signed === undefined) {
    throw new PendulumError('MALFORMED', 'check-in reply carries no signed freshness statement', {
      context: { field: 'freshness' },
    });
  }
  checkEnvelope(signed, maxFreshnessBytes, 'freshness statement');
  verifyThreshold(
    freshnessType,
    signed,
    root.timestampKeys,
    root.timestampThreshold,
    `freshness statement (timestamp keys of trust root v${root.version})`,
  );
  const statement = decodeFreshness(signed.body);
  const field = (name: string, problem: string) =>
    new PendulumError('MALFORMED', `freshness statement: field "${name}" ${problem}`, {
      context: { field: name },
    });
  if (statement.time === undefined) throw field('time', 'is missing');
  if (statement.expires === undefined) throw field('expires', 'is missing');
  const time = timestampDate(statement.time);
  const expiresAt = timestampDate(statement.expires);
  if (Number.isNaN(time.getTime()) || Number.isNaN(expiresAt.getTime()))
    throw field('time', 'is out of range');
  const ttl = expiresAt.getTime() - time.getTime();
  if (ttl <= 0 || ttl > maxFreshnessTtlMs)
    throw field('expires', 'must be after the time, by at most 24h');
  if (statement.deviceId !== expected.deviceId) {
    throw new PendulumError(
      'REPLAYED',
      `freshness statement was made for device ${statement.deviceId || '(none)'}, not this one`,
      { context: { field: 'device_id' } },
    );
  }
  if (!sameBytes(statement.nonce, expected.nonce)) {
    throw new PendulumError(
      'REPLAYED',
      'freshness statement answers another check-in (its nonce is not the one sent): a replayed reply',
      { context: { field: 'nonce' } },
    );
  }
  const binding = offerBinding(expected.offer);
  if (
    statement.deploymentId !== binding.deploymentId ||
    !sameBytes(statement.manifestSha256, binding.manifestSha256)
  ) {
    throw new PendulumError(
      'REPLAYED',
      'freshness statement is about another offer than the one in the reply (mix-and-match)',
      { context: { field: 'deployment_id' } },
    );
  }
  if (expiresAt.getTime() <= expected.now.getTime()) {
    throw new PendulumError(
      'EXPIRED',
      `freshness statement expired at ${expiresAt.toISOString()} (device clock ${expected.now.toISOString()})`,
      { context: { field: 'expires' } },
    );
  }
  return { time, expiresAt };
}

function decodeFreshness(body: Uint8Array): Freshness {
  try {
    return fromBinary(FreshnessSchema, body);
  } catch (error) {
    throw new PendulumError('MALFORMED', 'freshness statement body does not decode', {
      cause: error,
    });
  }
}

// offerBinding is what a statement says about the offer beside it.
function offerBinding(offer: Offer | undefined): {
  deploymentId: string;
  manifestSha256: Uint8Array;
} {
  if (offer === undefined) return { deploymentId: '', manifestSha256: new Uint8Array() };
  return {
    deploymentId: offer.deploymentId,
    manifestSha256: offer.manifest === undefined ? new Uint8Array() : sha256(offer.manifest.body),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
