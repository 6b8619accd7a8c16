// Device authentication: a signature verifies only for the exact public key,
// class and timestamp the device signed.
import fc from 'fast-check';
import { verifyDeviceAuth } from '../../src/trust/device-auth.js';
import { corpus, type DeviceAuthSample } from '../corpus.js';
import { defineFamily } from '../family.js';
import { applyByteOps, type ByteOp, byteOps } from '../mutate.js';
import { deviceAuthInput, verifies } from '../oracle.js';
import { accepted, attempt, falseAcceptance } from '../outcome.js';

type Edit =
  | { readonly field: 'signature' | 'public-key'; readonly ops: ByteOp[] }
  | {
      readonly field: 'swap';
      readonly part: 'signature' | 'public-key' | 'class' | 'timestamp';
      readonly pick: number;
    }
  | { readonly field: 'class'; readonly at: number; readonly cut: number; readonly insert: string }
  | { readonly field: 'timestamp'; readonly delta: bigint };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({
    field: fc.constantFrom('signature' as const, 'public-key' as const),
    ops: byteOps(0, 2),
  }),
  fc.record({
    field: fc.constant('swap' as const),
    part: fc.constantFrom(
      'signature' as const,
      'public-key' as const,
      'class' as const,
      'timestamp' as const,
    ),
    pick: fc.nat(),
  }),
  fc.record({
    field: fc.constant('class' as const),
    at: fc.nat(),
    cut: fc.nat(3),
    insert: fc.string({ maxLength: 3, unit: 'grapheme' }),
  }),
  fc.record({
    field: fc.constant('timestamp' as const),
    delta: fc.oneof(
      fc.bigInt({ min: -1000n, max: 1000n }),
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
    ),
  }),
);

function applyEdit(
  sample: DeviceAuthSample,
  e: Edit,
  samples: readonly DeviceAuthSample[],
): DeviceAuthSample {
  switch (e.field) {
    case 'signature':
      return { ...sample, signature: applyByteOps(sample.signature, e.ops) };
    case 'public-key':
      return { ...sample, publicKey: applyByteOps(sample.publicKey, e.ops) };
    case 'swap': {
      const other = samples[e.pick % samples.length] as DeviceAuthSample;
      if (e.part === 'signature') return { ...sample, signature: other.signature };
      if (e.part === 'public-key') return { ...sample, publicKey: other.publicKey };
      if (e.part === 'class') return { ...sample, classId: other.classId };
      return { ...sample, timestampMs: other.timestampMs };
    }
    case 'class': {
      const i = e.at % (sample.classId.length + 1);
      return {
        ...sample,
        classId: sample.classId.slice(0, i) + e.insert + sample.classId.slice(i + e.cut),
      };
    }
    case 'timestamp':
      // Stay within int64, as the wire field is.
      return { ...sample, timestampMs: BigInt.asIntN(64, sample.timestampMs + e.delta) };
  }
}

export const deviceAuthForgery = defineFamily({
  name: 'device-auth-forgery',
  defends:
    'verifyDeviceAuth refuses any changed signature, public key, class or timestamp unless the device really signed it',
  share: 16,
  testRuns: 250,
  arbitrary: () =>
    fc.record({
      sample: fc.nat(corpus().deviceAuth.length - 1),
      edits: fc.array(edit, { minLength: 1, maxLength: 3 }),
    }),
  check: ({ sample, edits }) => {
    const samples = corpus().deviceAuth;
    let auth = samples[sample] as DeviceAuthSample;
    for (const e of edits) auth = applyEdit(auth, e, samples);
    const { publicKey, classId, timestampMs, signature } = auth;
    return attempt(
      () => verifyDeviceAuth(publicKey, classId, timestampMs, signature),
      ['INVALID_ARGUMENT', 'UNAUTHENTICATED'],
      () =>
        verifies(deviceAuthInput(publicKey, classId, timestampMs), signature, publicKey)
          ? accepted()
          : falseAcceptance('a changed authentication verified'),
    );
  },
});
