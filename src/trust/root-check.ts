// Whether a device would accept a trust root, and why not: the verdict of the
// very functions a device runs, with the signature counts spelled out for the
// people collecting signatures. Pure.
import { PendulumError } from '../errors.js';
import type { Signed } from '../gen/pendulum/v1/manifest_pb.js';
import { type SignatureStatus, signatureStatus } from './signatures.js';
import {
  checkSuccession,
  checkUnexpired,
  decodeTrustRootBody,
  maxTrustRootBytes,
  type TrustRootContent,
  trustRootType,
  updateTrustRoot,
  type VerifiedTrustRoot,
  verifyPinnedTrustRoot,
} from './trust-root.js';

export interface TrustRootCheck {
  readonly root: TrustRootContent;
  // Signatures by the current root's keys against its root threshold; absent
  // when the root is checked on its own (a first, pinned root).
  readonly previous: SignatureStatus | undefined;
  // Signatures by the root's own keys against its own root threshold.
  readonly own: SignatureStatus;
  // What no signature can fix: a version that does not follow, another
  // vendor, an expiry in the past.
  readonly bodyProblem: PendulumError | undefined;
  // What a device would refuse it with; undefined when it would accept it.
  readonly refusal: PendulumError | undefined;
}

// checkTrustRoot tells whether a device trusting `current` would move to
// `candidate` (updateTrustRoot), or, without a current root, whether it holds
// as a pinned root that has not expired. A body that does not decode throws.
export function checkTrustRoot(
  candidate: Signed,
  current: VerifiedTrustRoot | undefined,
  now: Date,
): TrustRootCheck {
  if (candidate.body.length > maxTrustRootBytes) {
    throw new PendulumError(
      'TOO_LARGE',
      `trust root body is ${candidate.body.length} bytes, above the limit of ${maxTrustRootBytes}`,
    );
  }
  const root = decodeTrustRootBody(candidate.body, 'trust root');
  return {
    root,
    previous:
      current === undefined
        ? undefined
        : signatureStatus(trustRootType, candidate, current.rootKeys, current.rootThreshold),
    own: signatureStatus(trustRootType, candidate, root.rootKeys, root.rootThreshold),
    bodyProblem: caught(() => {
      if (current !== undefined) checkSuccession(current, root);
      checkUnexpired(root, now);
    }),
    refusal: caught(() => {
      if (current === undefined) updateTrustRoot(verifyPinnedTrustRoot(candidate), [], now);
      else updateTrustRoot(current, [candidate], now);
    }),
  };
}

function caught(fn: () => void): PendulumError | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (error instanceof PendulumError) return error;
    throw error;
  }
}
