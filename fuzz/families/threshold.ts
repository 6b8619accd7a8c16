// Threshold counting on its own: random trusted key sets, thresholds and
// signature lists drawn from a pool whose validity is known by construction.
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { type Signature, SignatureSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { createSigned } from '../../src/trust/envelope.js';
import type { KeyPair } from '../../src/trust/keys.js';
import { verifyThreshold } from '../../src/trust/signatures.js';
import { publicInfo } from '../corpus.js';
import { fuzzKey, signFast } from '../ed25519.js';
import { defineFamily } from '../family.js';
import { signingInput } from '../oracle.js';
import { accepted, attempt, falseAcceptance, violation } from '../outcome.js';

const kinds = ['valid', 'other-body', 'cross-type', 'zero', 'short', 'mislabeled'] as const;
type Kind = (typeof kinds)[number];

interface Pool {
  readonly keys: readonly KeyPair[];
  readonly bodies: readonly Uint8Array[];
  // sigs[body][key][kind]
  readonly sigs: readonly (readonly Record<Kind, Signature>[])[];
}

// Keys 0-5 may be trusted; 6 and 7 never are.
const keyCount = 8;
const candidates = 6;

let built: Pool | undefined;

// pool signs the pool once per process.
function pool(): Pool {
  built ??= buildPool();
  return built;
}

function buildPool(): Pool {
  const keys = Array.from({ length: keyCount }, (_, i) => fuzzKey(`threshold-${i}`));
  const bodies = [new TextEncoder().encode('a document'), new Uint8Array([8, 1, 0x12, 0])];
  const type = 'pendulum.v1.Manifest';
  const sigs = bodies.map((body) =>
    keys.map((key, i) => {
      const entry = (keyId: string, sig: Uint8Array) => create(SignatureSchema, { keyId, sig });
      const valid = signFast(signingInput(type, body), key);
      const next = keys[(i + 1) % keys.length] as KeyPair;
      return {
        valid: entry(key.keyId, valid),
        'other-body': entry(
          key.keyId,
          signFast(signingInput(type, new Uint8Array([...body, 1])), key),
        ),
        'cross-type': entry(key.keyId, signFast(signingInput('pendulum.v1.TrustRoot', body), key)),
        zero: entry(key.keyId, new Uint8Array(64)),
        short: entry(key.keyId, valid.subarray(0, 63)),
        mislabeled: entry(next.keyId, valid),
      };
    }),
  );
  return { keys, bodies, sigs };
}

export const thresholdCounting = defineFamily({
  name: 'threshold-counting',
  defends:
    'verifyThreshold accepts exactly when distinct trusted keys with a valid signature reach the threshold (duplicates count once, none never does)',
  share: 50,
  testRuns: 2000,
  arbitrary: () =>
    fc.record({
      body: fc.nat(pool().bodies.length - 1),
      trusted: fc.uniqueArray(fc.nat(candidates - 1), { minLength: 1, maxLength: candidates }),
      threshold: fc.integer({ min: 1, max: candidates + 1 }),
      signatures: fc.array(
        fc.record({ key: fc.nat(keyCount - 1), kind: fc.constantFrom(...kinds) }),
        { maxLength: 10 },
      ),
    }),
  check: ({ body, trusted, threshold, signatures }) => {
    const { keys, bodies, sigs: all } = pool();
    const sigs = signatures.map(({ key, kind }) => all[body]?.[key]?.[kind] as Signature);
    const signed = createSigned(bodies[body] as Uint8Array, sigs);
    const trustedKeys = trusted.map((i) => keys[i] as KeyPair);
    const expected = new Set(
      signatures
        .filter(({ key, kind }) => kind === 'valid' && trusted.includes(key))
        .map(({ key }) => keys[key]?.keyId),
    );
    const outcome = attempt(
      () =>
        verifyThreshold(
          'pendulum.v1.Manifest',
          signed,
          trustedKeys.map((k) => publicInfo(k, 'trusted')),
          threshold,
          'fuzzed document',
        ),
      ['UNTRUSTED_KEY', 'THRESHOLD_NOT_MET', 'SIGNATURE_INVALID', 'MALFORMED'],
      (signers) => {
        if (expected.size < threshold)
          return falseAcceptance(`${expected.size} valid trusted signers, threshold ${threshold}`);
        const same = signers.length === expected.size && signers.every((id) => expected.has(id));
        return same
          ? accepted()
          : violation(`signers ${signers.length}, expected ${expected.size}`);
      },
    );
    if (outcome.verdict === 'refused' && expected.size >= threshold)
      return violation(`refused ${expected.size} valid trusted signers for threshold ${threshold}`);
    return outcome;
  },
});
