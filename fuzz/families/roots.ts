// Trust roots: a pinned root is accepted only when a threshold of its own root
// keys signed it; a new version only when the old root's threshold and its
// own both signed it, it is the next version, of the same vendor, unexpired.
import { fromBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import type { ErrorCode } from '../../src/errors.js';
import {
  KeyAlgorithm,
  type Signed,
  type TrustRoot,
  TrustRootSchema,
} from '../../src/gen/pendulum/v1/manifest_pb.js';
import {
  maxTrustRootBytes,
  updateTrustRoot,
  type VerifiedTrustRoot,
  verifyPinnedTrustRoot,
} from '../../src/trust/trust-root.js';
import { corpus, type World } from '../corpus.js';
import { applyEnvelopeMutation, envelopeMutation } from '../envelope-mutate.js';
import { defineFamily } from '../family.js';
import { meetsThreshold } from '../oracle.js';
import { accepted, attempt, falseAcceptance, type Outcome } from '../outcome.js';
import { openEnvelope } from './manifest.js';

const rootCodes: ErrorCode[] = [
  'MALFORMED',
  'TOO_LARGE',
  'UNTRUSTED_KEY',
  'THRESHOLD_NOT_MET',
  'SIGNATURE_INVALID',
  'EXPIRED',
  'INCOMPATIBLE',
  'ROLLBACK_REJECTED',
];

function mutatedRoots() {
  const { rootSeeds, rootBodies, manifestBodies } = corpus();
  const donors = [...rootBodies, ...manifestBodies];
  return envelopeMutation(rootSeeds, donors).map((m) =>
    applyEnvelopeMutation(m, rootSeeds, donors),
  );
}

// ownKeys are the well-formed root keys a root body lists.
function ownKeys(root: TrustRoot): Uint8Array[] {
  return root.rootKeys
    .filter((k) => k.algorithm === KeyAlgorithm.ED25519 && k.publicKey.length === 32)
    .map((k) => k.publicKey);
}

// selfSigned tells whether a threshold of a root's own keys signed it.
function selfSigned(signed: Signed): TrustRoot | undefined {
  const root = fromBinary(TrustRootSchema, signed.body);
  const ok = meetsThreshold(
    'pendulum.v1.TrustRoot',
    signed.body,
    signed.signatures,
    ownKeys(root),
    root.rootThreshold,
  );
  return ok ? root : undefined;
}

export const trustRootForgery = defineFamily({
  name: 'trust-root-forgery',
  defends: 'verifyPinnedTrustRoot accepts only a root signed by a threshold of its own root keys',
  share: 30,
  testRuns: 250,
  arbitrary: () => fc.record({ bytes: mutatedRoots(), asFile: fc.boolean() }),
  check: ({ bytes, asFile }) =>
    openEnvelope(bytes, asFile, maxTrustRootBytes, (signed) =>
      attempt(
        () => verifyPinnedTrustRoot(signed),
        rootCodes,
        (root) => {
          const raw = selfSigned(signed);
          if (raw === undefined)
            return falseAcceptance('not signed by a threshold of its own keys');
          if (root.version !== raw.version || root.vendorId !== raw.vendorId)
            return falseAcceptance('returned fields the body does not hold');
          return accepted();
        },
      ),
    ),
});

export const trustRootChainForgery = defineFamily({
  name: 'trust-root-chain-forgery',
  defends:
    'updateTrustRoot accepts a new root only if signed by the old threshold and its own, next version, same vendor, unexpired',
  share: 22,
  testRuns: 250,
  arbitrary: () =>
    fc.record({
      chain: fc.array(mutatedRoots(), { minLength: 1, maxLength: 2 }),
      asFile: fc.boolean(),
    }),
  check: ({ chain, asFile }) => {
    const signed: Signed[] = [];
    for (const bytes of chain) {
      const outcome = openEnvelope(bytes, asFile, maxTrustRootBytes, (s) => {
        signed.push(s);
        return accepted();
      });
      if (outcome.verdict !== 'accepted') return outcome;
    }
    const { worlds, now } = corpus();
    const first = worlds[0] as World;
    return attempt(
      () => updateTrustRoot(first.root, signed, now),
      rootCodes,
      (root) => chainAcceptance(first, signed, root, now),
    );
  },
});

// chainAcceptance re-walks an accepted chain by the rules of TUF 5.3.
function chainAcceptance(
  from: World,
  chain: readonly Signed[],
  result: VerifiedTrustRoot,
  now: Date,
): Outcome {
  let keys = from.rootKeys.map((k) => k.publicKey);
  let threshold = from.rootThreshold;
  let version = 1;
  let last: TrustRoot | undefined;
  for (const [i, signed] of chain.entries()) {
    const type = 'pendulum.v1.TrustRoot';
    if (!meetsThreshold(type, signed.body, signed.signatures, keys, threshold))
      return falseAcceptance(`root ${i} lacks the previous root's threshold`);
    const next = selfSigned(signed);
    if (next === undefined) return falseAcceptance(`root ${i} lacks its own threshold`);
    if (next.version !== version + 1) return falseAcceptance(`root ${i} is v${next.version}`);
    if (next.vendorId !== 'acme') return falseAcceptance(`root ${i} changes the vendor`);
    keys = ownKeys(next);
    threshold = next.rootThreshold;
    version = next.version;
    last = next;
  }
  const expires = last?.expires;
  if (
    expires === undefined ||
    Number(expires.seconds) * 1000 + expires.nanos / 1e6 <= now.getTime()
  )
    return falseAcceptance('the final root is expired');
  if (result.version !== version) return falseAcceptance(`returned v${result.version}`);
  return accepted();
}
