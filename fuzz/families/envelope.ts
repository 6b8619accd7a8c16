// Decoding envelopes and trust-root bodies from arbitrary or damaged bytes.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';
import {
  KeyAlgorithm,
  SignatureSchema,
  TrustRootSchema,
} from '../../src/gen/pendulum/v1/manifest_pb.js';
import { createSigned, decodeSigned, maxSignatures } from '../../src/trust/envelope.js';
import { decodeTrustRoot } from '../../src/trust/trust-root.js';
import { corpus } from '../corpus.js';
import { defineFamily } from '../family.js';
import { bytesLike } from '../mutate.js';
import { keyIdHex } from '../oracle.js';
import { accepted, attempt, falseAcceptance, violation } from '../outcome.js';

const limit = 2048;

export const envelopeDecode = defineFamily({
  name: 'envelope-decode',
  defends: 'decodeSigned refuses malformed bytes with MALFORMED or TOO_LARGE and never crashes',
  share: 170,
  testRuns: 3000,
  arbitrary: () => {
    const { envelopes, manifestBodies, rootBodies } = corpus();
    return fc.record({
      bytes: bytesLike([...envelopes, ...manifestBodies, ...rootBodies], 600),
      limit: fc.oneof(fc.constant(limit), fc.nat(700)),
    });
  },
  check: ({ bytes, limit }) =>
    attempt(
      () => decodeSigned(bytes, limit, 'fuzzed envelope'),
      ['MALFORMED', 'TOO_LARGE'],
      (signed) => {
        if (bytes.length > limit)
          return falseAcceptance(`decoded ${bytes.length} bytes > ${limit}`);
        if (signed.body.length === 0) return falseAcceptance('decoded an empty body');
        if (signed.signatures.length > maxSignatures)
          return falseAcceptance(`decoded ${signed.signatures.length} signatures`);
        return accepted();
      },
    ),
});

// A stand-in signature: decodeTrustRoot looks at the body, not at signatures.
const unchecked = create(SignatureSchema, { keyId: 'unchecked', sig: new Uint8Array(64) });

export const trustRootDecode = defineFamily({
  name: 'trust-root-decode',
  defends:
    'decodeTrustRoot refuses a malformed root body with MALFORMED, and whatever it returns is consistent',
  share: 130,
  testRuns: 3000,
  arbitrary: () => {
    const { rootBodies, manifestBodies } = corpus();
    return bytesLike([...rootBodies, ...rootBodies, ...manifestBodies], 400);
  },
  check: (body) =>
    attempt(
      () => decodeTrustRoot(createSigned(body, [unchecked]), 'fuzzed root'),
      ['MALFORMED', 'TOO_LARGE'],
      (root) => {
        // What decoding promises, checked against the body decoded independently.
        const raw = fromBinary(TrustRootSchema, body);
        const broken = [
          root.version < 1 && 'version below 1',
          root.version !== raw.version && 'version differs from the body',
          Number.isNaN(root.expiresAt.getTime()) && 'expiry out of range',
          root.vendorId === '' && 'empty vendor',
          !thresholdOk(root.rootThreshold, root.rootKeys.length) && 'root threshold out of range',
          !thresholdOk(root.releaseThreshold, root.releaseKeys.length) &&
            'release threshold out of range',
          !keysOk(root.rootKeys, raw.rootKeys) && 'root keys differ from the body or repeat',
          !keysOk(root.releaseKeys, raw.releaseKeys) &&
            'release keys differ from the body or repeat',
        ].filter((problem) => problem !== false);
        return broken.length === 0 ? accepted() : falseAcceptance(broken.join('; '));
      },
    ),
});

function thresholdOk(threshold: number, keys: number): boolean {
  return Number.isInteger(threshold) && threshold >= 1 && threshold <= keys;
}

function keysOk(
  keys: readonly { keyId: string; publicKey: Uint8Array }[],
  raw: readonly { algorithm: KeyAlgorithm; publicKey: Uint8Array }[],
): boolean {
  const ids = new Set(keys.map((k) => k.keyId));
  return (
    ids.size === keys.length &&
    keys.length === raw.length &&
    raw.every(
      (r, i) =>
        r.algorithm === KeyAlgorithm.ED25519 &&
        r.publicKey.length === 32 &&
        keys[i]?.keyId === keyIdHex(r.publicKey),
    )
  );
}

// Root bodies built field by field: key counts 0-4, thresholds 0-5, and
// timestamp keys that may repeat a release key.
export const rootThresholdBounds = defineFamily({
  name: 'root-threshold-bounds',
  defends:
    'a trust root is decoded only with 1 <= threshold <= keys for every role (threshold 0 refused) and a timestamp key of its own',
  share: 30,
  testRuns: 1000,
  arbitrary: () =>
    fc.record({
      rootKeys: fc.nat(4),
      rootThreshold: fc.nat(5),
      releaseKeys: fc.nat(4),
      releaseThreshold: fc.nat(5),
      timestampKeys: fc.nat(3),
      timestampThreshold: fc.nat(4),
      repeatKey: fc.boolean(),
      // The first timestamp key is the first release key.
      sharedTimestampKey: fc.boolean(),
    }),
  check: (spec) => {
    const key = (i: number) => ({
      algorithm: KeyAlgorithm.ED25519,
      publicKey: new Uint8Array(32).fill(spec.repeatKey ? 7 : i + 1),
      label: `k${i}`,
    });
    const keys = (n: number) => Array.from({ length: n }, (_, i) => key(i));
    const timestampKeys = Array.from({ length: spec.timestampKeys }, (_, i) =>
      i === 0 && spec.sharedTimestampKey
        ? key(0)
        : {
            algorithm: KeyAlgorithm.ED25519,
            publicKey: new Uint8Array(32).fill(101 + i),
            label: `t${i}`,
          },
    );
    const shared = spec.sharedTimestampKey && spec.timestampKeys > 0 && spec.releaseKeys > 0;
    const body = create(TrustRootSchema, {
      version: 1,
      expires: timestampFromDate(new Date('2031-01-01T00:00:00Z')),
      vendorId: 'acme',
      rootKeys: keys(spec.rootKeys),
      rootThreshold: spec.rootThreshold,
      releaseKeys: keys(spec.releaseKeys),
      releaseThreshold: spec.releaseThreshold,
      timestampKeys,
      timestampThreshold: spec.timestampThreshold,
    });
    const valid =
      thresholdOk(spec.rootThreshold, spec.rootKeys) &&
      thresholdOk(spec.releaseThreshold, spec.releaseKeys) &&
      thresholdOk(spec.timestampThreshold, spec.timestampKeys) &&
      !(spec.repeatKey && (spec.rootKeys > 1 || spec.releaseKeys > 1)) &&
      !shared;
    const outcome = attempt(
      () =>
        decodeTrustRoot(createSigned(toBinary(TrustRootSchema, body), [unchecked]), 'built root'),
      ['MALFORMED'],
      () => (valid ? accepted() : falseAcceptance(`decoded ${JSON.stringify(spec)}`)),
    );
    if (valid && outcome.verdict === 'refused')
      return violation(`refused a well-formed root ${JSON.stringify(spec)}`);
    return outcome;
  },
});
