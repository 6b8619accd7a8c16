// Trust roots: decode and check one, and walk a chain of new versions (TUF 5.3).
import { fromBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { PendulumError } from '../errors.js';
import {
  KeyAlgorithm,
  type PublicKey,
  type Signed,
  type TrustRoot,
  TrustRootSchema,
} from '../gen/pendulum/v1/manifest_pb.js';
import { checkEnvelope } from './envelope.js';
import { keyIdOf, type PublicKeyInfo } from './keys.js';
import { verifyThreshold } from './signatures.js';

// A trust root larger than this is refused before it is parsed.
export const maxTrustRootBytes = 64 * 1024;

// What a trust root body says, checked for consistency but not for signatures.
export interface TrustRootContent {
  readonly version: number;
  readonly expiresAt: Date;
  readonly vendorId: string;
  readonly rootKeys: readonly PublicKeyInfo[];
  readonly rootThreshold: number;
  readonly releaseKeys: readonly PublicKeyInfo[];
  readonly releaseThreshold: number;
  // The online timestamp role: the server signs each check-in's Freshness.
  readonly timestampKeys: readonly PublicKeyInfo[];
  readonly timestampThreshold: number;
}

export interface VerifiedTrustRoot extends TrustRootContent {
  // The envelope as received, to store and serve unchanged.
  readonly signed: Signed;
}

export const trustRootType = 'pendulum.v1.TrustRoot';

// verifyPinnedTrustRoot checks a root trusted out of band (provisioned on the
// device, or the server's first): signed by a threshold of its own root keys.
// Expiry is checked once a chain has been walked, by updateTrustRoot.
export function verifyPinnedTrustRoot(signed: Signed): VerifiedTrustRoot {
  checkEnvelope(signed, maxTrustRootBytes, 'trust root');
  const root = decodeTrustRoot(signed, 'trust root');
  verifyThreshold(
    trustRootType,
    signed,
    root.rootKeys,
    root.rootThreshold,
    `trust root v${root.version}`,
  );
  return root;
}

// updateTrustRoot walks `chain` (versions current+1, current+2, ...) from a
// trusted root and returns the newest. Each new root must be signed by a
// threshold of the previous root's keys and of its own (TUF 5.3.4), carry the
// next version (5.3.5), and the final root must not be expired (5.3.10).
export function updateTrustRoot(
  current: VerifiedTrustRoot,
  chain: readonly Signed[],
  now: Date,
): VerifiedTrustRoot {
  const trusted = walkTrustRoots(current, chain);
  checkUnexpired(trusted, now);
  return trusted;
}

// walkTrustRoots is updateTrustRoot without the final expiry check, for a
// device that learns the time from a statement the newest root vouches for.
export function walkTrustRoots(
  current: VerifiedTrustRoot,
  chain: readonly Signed[],
): VerifiedTrustRoot {
  let trusted = current;
  for (const signed of chain) {
    checkEnvelope(signed, maxTrustRootBytes, 'trust root');
    const what = `trust root after v${trusted.version}`;
    verifyThreshold(
      trustRootType,
      signed,
      trusted.rootKeys,
      trusted.rootThreshold,
      `${what} (signed by the previous root)`,
    );
    const next = decodeTrustRoot(signed, what);
    verifyThreshold(
      trustRootType,
      signed,
      next.rootKeys,
      next.rootThreshold,
      `trust root v${next.version} (signed by its own keys)`,
    );
    checkSuccession(trusted, next);
    trusted = next;
  }
  return trusted;
}

// checkSuccession throws unless `next` can follow `trusted`, whoever signed
// it: the next version (TUF 5.3.5), for the same vendor.
export function checkSuccession(trusted: TrustRootContent, next: TrustRootContent): void {
  if (next.version !== trusted.version + 1) {
    throw new PendulumError(
      'ROLLBACK_REJECTED',
      `trust root v${next.version} does not follow v${trusted.version}`,
      {
        context: { trusted: trusted.version, offered: next.version },
      },
    );
  }
  if (next.vendorId !== trusted.vendorId) {
    throw new PendulumError(
      'INCOMPATIBLE',
      `trust root v${next.version} is for vendor "${next.vendorId}", not "${trusted.vendorId}"`,
      {
        context: { field: 'vendor_id' },
      },
    );
  }
}

// checkUnexpired throws EXPIRED for a root at or past its expiry (TUF 5.3.10).
export function checkUnexpired(root: TrustRootContent, now: Date): void {
  if (root.expiresAt.getTime() <= now.getTime()) {
    throw new PendulumError(
      'EXPIRED',
      `trust root v${root.version} expired at ${root.expiresAt.toISOString()}`,
      {
        context: { version: root.version, expires: root.expiresAt.toISOString() },
      },
    );
  }
}

// decodeTrustRoot loads a root envelope that was verified before (the agent's
// journal, the server's store): it checks the envelope's limits (a body, at
// least one signature) and the body's consistency, but not the signatures.
export function decodeTrustRoot(signed: Signed, what: string): VerifiedTrustRoot {
  checkEnvelope(signed, maxTrustRootBytes, what);
  return { ...decodeTrustRootBody(signed.body, what), signed };
}

// decodeTrustRootBody parses and checks a root body: a version, an expiry, a
// vendor, non-empty key lists without repeats, thresholds from 1 to the keys,
// and timestamp keys that are neither root nor release keys (the timestamp key
// lives online on the server; it must be able to sign nothing but freshness).
export function decodeTrustRootBody(body: Uint8Array, what: string): TrustRootContent {
  let root: TrustRoot;
  try {
    root = fromBinary(TrustRootSchema, body);
  } catch (error) {
    throw new PendulumError('MALFORMED', `${what} body does not decode`, { cause: error });
  }
  const field = (name: string, problem: string) =>
    new PendulumError('MALFORMED', `${what}: field "${name}" ${problem}`, {
      context: { field: name },
    });
  if (root.version < 1) throw field('version', 'must be at least 1');
  if (root.expires === undefined) throw field('expires', 'is missing');
  const expiresAt = timestampDate(root.expires);
  // Outside the Date range it would compare as never expiring (TUF 5.3.10).
  if (Number.isNaN(expiresAt.getTime())) throw field('expires', 'is out of range');
  if (root.vendorId === '') throw field('vendor_id', 'is empty');
  const rootKeys = keyList(root.rootKeys, 'root_keys', field);
  const releaseKeys = keyList(root.releaseKeys, 'release_keys', field);
  if (root.rootThreshold < 1 || root.rootThreshold > rootKeys.length) {
    throw field('root_threshold', `must be between 1 and the ${rootKeys.length} root keys`);
  }
  if (root.releaseThreshold < 1 || root.releaseThreshold > releaseKeys.length) {
    throw field(
      'release_threshold',
      `must be between 1 and the ${releaseKeys.length} release keys`,
    );
  }
  const timestampKeys = keyList(root.timestampKeys, 'timestamp_keys', field);
  if (root.timestampThreshold < 1 || root.timestampThreshold > timestampKeys.length) {
    throw field(
      'timestamp_threshold',
      `must be between 1 and the ${timestampKeys.length} timestamp keys`,
    );
  }
  const offline = new Set([...rootKeys, ...releaseKeys].map((key) => key.keyId));
  const shared = timestampKeys.findIndex((key) => offline.has(key.keyId));
  if (shared !== -1) {
    throw field(
      `timestamp_keys[${shared}]`,
      'is also a root or release key; the online timestamp key must be a key of its own',
    );
  }
  return {
    version: root.version,
    expiresAt,
    vendorId: root.vendorId,
    rootKeys,
    rootThreshold: root.rootThreshold,
    releaseKeys,
    releaseThreshold: root.releaseThreshold,
    timestampKeys,
    timestampThreshold: root.timestampThreshold,
  };
}

function keyList(
  keys: readonly PublicKey[],
  name: string,
  field: (name: string, problem: string) => PendulumError,
): PublicKeyInfo[] {
  if (keys.length === 0) throw field(name, 'is empty');
  const seen = new Set<string>();
  return keys.map((key, index) => {
    if (key.algorithm !== KeyAlgorithm.ED25519 || key.publicKey.length !== 32) {
      throw field(`${name}[${index}]`, 'must be a 32-byte Ed25519 key');
    }
    const keyId = keyIdOf(key.publicKey);
    if (seen.has(keyId)) throw field(`${name}[${index}]`, 'repeats a key');
    seen.add(keyId);
    return { keyId, publicKey: key.publicKey, label: key.label };
  });
}
