// Check-in freshness statements: a device accepts one only when a timestamp
// key really signed that exact body, for this device, this nonce and this
// offer, and it has not expired — whatever a forger does to the envelope.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';
import type { ErrorCode } from '../../src/errors.js';
import { type Offer, OfferSchema } from '../../src/gen/pendulum/v1/device_pb.js';
import { FreshnessSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { sha256 } from '../../src/trust/digest.js';
import { maxFreshnessBytes, verifyFreshness } from '../../src/trust/freshness.js';
import { corpus, type Seed, type World } from '../corpus.js';
import { applyEnvelopeMutation, envelopeMutation } from '../envelope-mutate.js';
import { defineFamily } from '../family.js';
import { signaturesAtHand, signWith } from '../forger.js';
import { validSigners } from '../oracle.js';
import { accepted, attempt, falseAcceptance } from '../outcome.js';
import { openEnvelope } from './manifest.js';

const type = 'pendulum.v1.Freshness';
const codes: ErrorCode[] = [
  'MALFORMED',
  'TOO_LARGE',
  'UNTRUSTED_KEY',
  'THRESHOLD_NOT_MET',
  'SIGNATURE_INVALID',
  'EXPIRED',
  'REPLAYED',
];
const deviceId = 'd'.repeat(64);
const nonce = new Uint8Array(32).fill(0x5a);

interface FreshnessCorpus {
  readonly offer: Offer;
  readonly seeds: Seed[];
  readonly bodies: Uint8Array[];
}

let built: FreshnessCorpus | undefined;

// freshnessCorpus: the statement an honest server makes for the fixed check-in,
// and near misses (another nonce, device or offer; expired; signed by a
// release key) for the mutator to start from.
function freshnessCorpus(): FreshnessCorpus {
  if (built !== undefined) return built;
  const { now, worlds, timestampKey, manifestSeeds } = corpus();
  const world = worlds[0] as World;
  const manifest = (manifestSeeds[0] as Seed).signed;
  const offer = create(OfferSchema, { deploymentId: 'deployment-1', manifest, payloads: [] });
  const body = (
    over: Partial<{ nonce: Uint8Array; deviceId: string; expires: Date; offer: boolean }>,
  ) =>
    toBody({
      time: now,
      expires: over.expires ?? new Date(now.getTime() + 3_600_000),
      deviceId: over.deviceId ?? deviceId,
      nonce: over.nonce ?? nonce,
      offer: over.offer === false ? undefined : offer,
    });
  const bodies = [
    body({}),
    body({ nonce: new Uint8Array(32).fill(1) }),
    body({ deviceId: 'e'.repeat(64) }),
    body({ offer: false }),
    body({ expires: new Date(now.getTime() - 1000) }),
  ];
  const signers = [timestampKey, ...world.releaseKeys, ...world.rootKeys];
  const seeds: Seed[] = bodies.flatMap((b) => [
    {
      type,
      world: 0,
      signed: signWith(type, b, [timestampKey]),
      extras: signaturesAtHand(type, b, signers),
    },
    { type, world: 0, signed: signWith(type, b, world.releaseKeys.slice(0, 1)), extras: [] },
  ]);
  built = { offer, seeds, bodies };
  return built;
}

function toBody(claim: {
  time: Date;
  expires: Date;
  deviceId: string;
  nonce: Uint8Array;
  offer: Offer | undefined;
}): Uint8Array {
  const message = create(FreshnessSchema, {
    time: timestampFromDate(claim.time),
    expires: timestampFromDate(claim.expires),
    deviceId: claim.deviceId,
    nonce: claim.nonce,
    deploymentId: claim.offer?.deploymentId ?? '',
    manifestSha256:
      claim.offer?.manifest === undefined ? new Uint8Array() : sha256(claim.offer.manifest.body),
  });
  return toBinary(FreshnessSchema, message);
}

export const freshnessForgery = defineFamily({
  name: 'freshness-forgery',
  defends:
    'verifyFreshness accepts only a statement a timestamp key signed for this device, nonce and offer, unexpired',
  share: 30,
  testRuns: 250,
  arbitrary: () => {
    const { seeds, bodies } = freshnessCorpus();
    const donors = [...bodies, ...corpus().manifestBodies];
    return fc.record({
      bytes: envelopeMutation(seeds, donors).map((m) => applyEnvelopeMutation(m, seeds, donors)),
      asFile: fc.boolean(),
    });
  },
  check: ({ bytes, asFile }) => {
    const { now, worlds, timestampKey } = corpus();
    const { offer } = freshnessCorpus();
    const root = (worlds[0] as World).root;
    return openEnvelope(bytes, asFile, maxFreshnessBytes, (signed) =>
      attempt(
        () => verifyFreshness(signed, root, { deviceId, nonce, offer, now }),
        codes,
        () => {
          const signers = validSigners(type, signed.body, signed.signatures, [
            timestampKey.publicKey,
          ]);
          if (signers.size < 1)
            return falseAcceptance('accepted without a valid timestamp signature');
          const statement = fromBinary(FreshnessSchema, signed.body);
          if (statement.deviceId !== deviceId)
            return falseAcceptance('accepted for another device');
          if (Buffer.compare(Buffer.from(statement.nonce), Buffer.from(nonce)) !== 0)
            return falseAcceptance('accepted another nonce');
          if (statement.deploymentId !== offer.deploymentId)
            return falseAcceptance('accepted a statement about another offer');
          const expires =
            statement.expires === undefined ? 0 : timestampDate(statement.expires).getTime();
          if (!(expires > now.getTime())) return falseAcceptance('accepted an expired statement');
          return accepted();
        },
      ),
    );
  },
});
