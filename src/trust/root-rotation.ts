// The next version of a trust root: which keys join, which leave, the new
// thresholds. Pure. What it returns is still to be signed by a threshold of
// the current root keys and of its own (TUF 5.3.4).
import { PendulumError } from '../errors.js';
import { encodeTrustRoot, type TrustRootSpec } from './authoring.js';
import type { PublicKeyInfo } from './keys.js';
import { decodeTrustRootBody, type TrustRootContent } from './trust-root.js';

// One role's change; key ids to remove must be listed in the current root.
export interface KeyListChange {
  readonly add?: readonly PublicKeyInfo[];
  readonly remove?: readonly string[];
  // Unset: keep the current threshold.
  readonly threshold?: number;
}

export interface RootChange {
  readonly root?: KeyListChange;
  readonly release?: KeyListChange;
  readonly timestamp?: KeyListChange;
  readonly expiresAt: Date;
}

// nextTrustRoot is version N+1 of `current` with `change` applied. It refuses
// a result a device would refuse: an empty key list, a key listed twice, a
// threshold of 0 or above the keys.
export function nextTrustRoot(current: TrustRootContent, change: RootChange): TrustRootSpec {
  const version = current.version + 1;
  const root = applyChange('root', current.rootKeys, current.rootThreshold, change.root, version);
  const release = applyChange(
    'release',
    current.releaseKeys,
    current.releaseThreshold,
    change.release,
    version,
  );
  const timestamp = applyChange(
    'timestamp',
    current.timestampKeys,
    current.timestampThreshold,
    change.timestamp,
    version,
  );
  const spec: TrustRootSpec = {
    version,
    expiresAt: change.expiresAt,
    vendorId: current.vendorId,
    rootKeys: root.keys,
    rootThreshold: root.threshold,
    releaseKeys: release.keys,
    releaseThreshold: release.threshold,
    timestampKeys: timestamp.keys,
    timestampThreshold: timestamp.threshold,
  };
  // The same checks a device makes when it loads the root.
  decodeTrustRootBody(encodeTrustRoot(spec), `trust root v${version}`);
  return spec;
}

function applyChange(
  role: 'root' | 'release' | 'timestamp',
  keys: readonly PublicKeyInfo[],
  threshold: number,
  change: KeyListChange | undefined,
  version: number,
): { keys: PublicKeyInfo[]; threshold: number } {
  const invalid = (message: string, field = `${role}_keys`) =>
    new PendulumError('INVALID_ARGUMENT', message, { context: { field } });
  const removed = new Set<string>();
  for (const keyId of change?.remove ?? []) {
    if (!keys.some((key) => key.keyId === keyId))
      throw invalid(
        `cannot remove ${role} key ${keyId}: trust root v${version - 1} does not list it`,
      );
    if (removed.has(keyId)) throw invalid(`${role} key ${keyId} is removed twice`);
    removed.add(keyId);
  }
  const next = keys.filter((key) => !removed.has(key.keyId));
  for (const key of change?.add ?? []) {
    if (next.some((k) => k.keyId === key.keyId))
      throw invalid(
        `${role} key ${key.keyId} is listed twice among the ${role} keys of trust root v${version}`,
      );
    next.push(key);
  }
  if (next.length === 0) throw invalid(`trust root v${version} would have no ${role} keys`);
  const wanted = change?.threshold ?? threshold;
  if (!Number.isSafeInteger(wanted) || wanted < 1)
    throw invalid(`the ${role} threshold must be at least 1, not ${wanted}`, `${role}_threshold`);
  if (wanted > next.length) {
    throw invalid(
      `the ${role} threshold ${wanted} is above the ${next.length} ${role} key(s) trust root v${version} would have`,
      `${role}_threshold`,
    );
  }
  return { keys: next, threshold: wanted };
}
