// Size caps come first: bytes, bodies and signature lists above their limits
// are refused with TOO_LARGE before anything is decoded or verified. Timing-free:
// each input would fail differently (or succeed) if it were decoded or
// verified first, so the code alone shows the order.
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { PendulumError } from '../../src/errors.js';
import { type Signature, SignatureSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { createSigned, decodeSigned, maxSignatures } from '../../src/trust/envelope.js';
import { maxManifestBytes, verifyManifest } from '../../src/trust/manifest.js';
import {
  maxTrustRootBytes,
  updateTrustRoot,
  verifyPinnedTrustRoot,
} from '../../src/trust/trust-root.js';
import { corpus, type World } from '../corpus.js';
import { defineFamily } from '../family.js';
import { accepted, describeThrown, type Outcome, violation } from '../outcome.js';

type Cap =
  | {
      readonly kind: 'envelope-bytes';
      readonly envelope: number;
      readonly under: number;
      readonly garbage: boolean;
    }
  | { readonly kind: 'envelope-at-limit'; readonly envelope: number; readonly over: number }
  | {
      readonly kind: 'manifest-body';
      readonly extra: number;
      readonly fill: number;
      readonly sigs: number;
    }
  | {
      readonly kind: 'root-body';
      readonly extra: number;
      readonly fill: number;
      readonly chain: boolean;
    }
  | {
      readonly kind: 'signature-count';
      readonly count: number;
      readonly target: 'manifest' | 'root' | 'chain';
    };

// Fill bytes: nested group starts (deep recursion if parsed), a length
// prefix claiming more than there is, zeros, 0xff.
const fills = [0x0b, 0x0a, 0x00, 0xff];

const cap: fc.Arbitrary<Cap> = fc.oneof(
  fc.record({
    kind: fc.constant('envelope-bytes' as const),
    envelope: fc.nat(),
    under: fc.integer({ min: 1, max: 400 }),
    garbage: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('envelope-at-limit' as const),
    envelope: fc.nat(),
    over: fc.nat(64),
  }),
  fc.record({
    kind: fc.constant('manifest-body' as const),
    extra: fc.integer({ min: 1, max: 4096 }),
    fill: fc.nat(fills.length - 1),
    sigs: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    kind: fc.constant('root-body' as const),
    extra: fc.integer({ min: 1, max: 4096 }),
    fill: fc.nat(fills.length - 1),
    chain: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('signature-count' as const),
    count: fc.integer({ min: maxSignatures + 1, max: maxSignatures + 40 }),
    target: fc.constantFrom('manifest' as const, 'root' as const, 'chain' as const),
  }),
);

// tooLarge expects `fn` to refuse with TOO_LARGE and no decode error as cause.
function tooLarge(fn: () => unknown, what: string): Outcome {
  try {
    fn();
  } catch (error) {
    if (error instanceof PendulumError && error.code === 'TOO_LARGE' && error.cause === undefined)
      return { verdict: 'refused', detail: 'TOO_LARGE' };
    if (error instanceof PendulumError)
      return violation(`${what}: ${error.code} instead of TOO_LARGE`);
    return { verdict: 'crash', detail: describeThrown(error) };
  }
  return { verdict: 'false-acceptance', detail: `${what} above its limit was accepted` };
}

export const sizeCaps = defineFamily({
  name: 'size-caps',
  defends:
    'inputs above the documented sizes are refused with TOO_LARGE before decoding or verifying',
  share: 25,
  testRuns: 300,
  arbitrary: () => cap,
  check: (input) => {
    const { envelopes, manifestSeeds, worlds, policy, now } = corpus();
    const world = worlds[0] as World;
    // Signatures by trusted keys that do not verify: checked first, they would say SIGNATURE_INVALID.
    const trustedBad = (n: number, type: 'manifest' | 'root'): Signature[] => {
      const keys = type === 'manifest' ? world.releaseKeys : world.rootKeys;
      return Array.from({ length: n }, (_, i) =>
        create(SignatureSchema, {
          keyId: keys[i % keys.length]?.keyId ?? '',
          sig: new Uint8Array(64).fill(i + 1),
        }),
      );
    };
    switch (input.kind) {
      case 'envelope-bytes': {
        // A valid envelope (would decode) or garbage (would be MALFORMED), above a limit.
        const valid = envelopes[input.envelope % envelopes.length] as Uint8Array;
        const bytes = input.garbage ? new Uint8Array(valid.length).fill(0xff) : valid;
        const limit = Math.max(0, bytes.length - input.under);
        return tooLarge(() => decodeSigned(bytes, limit, 'envelope'), 'envelope');
      }
      case 'envelope-at-limit': {
        const bytes = envelopes[input.envelope % envelopes.length] as Uint8Array;
        try {
          decodeSigned(bytes, bytes.length + input.over, 'envelope');
          return accepted();
        } catch (error) {
          return violation(
            `a valid envelope within its limit was refused: ${describeThrown(error)}`,
          );
        }
      }
      case 'manifest-body': {
        const body = new Uint8Array(maxManifestBytes + input.extra).fill(fills[input.fill] ?? 0);
        const signed = createSigned(body, trustedBad(input.sigs, 'manifest'));
        return tooLarge(() => verifyManifest(signed, world.root, policy), 'manifest body');
      }
      case 'root-body': {
        const body = new Uint8Array(maxTrustRootBytes + input.extra).fill(fills[input.fill] ?? 0);
        const signed = createSigned(body, trustedBad(2, 'root'));
        return input.chain
          ? tooLarge(() => updateTrustRoot(world.root, [signed], now), 'root body in a chain')
          : tooLarge(() => verifyPinnedTrustRoot(signed), 'pinned root body');
      }
      case 'signature-count': {
        const seed = input.target === 'manifest' ? manifestSeeds[0] : undefined;
        const body = seed?.signed.body ?? world.rootSigned.body;
        const signed = createSigned(
          body,
          trustedBad(input.count, input.target === 'manifest' ? 'manifest' : 'root'),
        );
        if (input.target === 'manifest')
          return tooLarge(() => verifyManifest(signed, world.root, policy), 'signatures');
        if (input.target === 'root')
          return tooLarge(() => verifyPinnedTrustRoot(signed), 'signatures');
        return tooLarge(() => updateTrustRoot(world.root, [signed], now), 'signatures');
      }
    }
  },
});
