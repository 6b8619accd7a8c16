// The valid documents every fuzz family starts from, signed once per process
// with deterministic keys: trust roots, manifests, a root chain, signatures to
// add, device authentications. Mutations of these are what verifiers see.
import type { Signature, Signed } from '../src/gen/pendulum/v1/manifest_pb.js';
import {
  ComponentKind,
  encodeManifest,
  encodeTrustRoot,
  type ManifestSpec,
  type TrustRootSpec,
} from '../src/trust/authoring.js';
import { sha256, toHex } from '../src/trust/digest.js';
import { encodeSigned } from '../src/trust/envelope.js';
import type { KeyPair, PublicKeyInfo } from '../src/trust/keys.js';
import type { ManifestPolicy } from '../src/trust/manifest.js';
import { type VerifiedTrustRoot, verifyPinnedTrustRoot } from '../src/trust/trust-root.js';
import { checkFastSigning, fuzzKey, signFast } from './ed25519.js';
import { signaturesAtHand, signWith } from './forger.js';
import { type DocType, deviceAuthInput } from './oracle.js';

const day = 24 * 60 * 60 * 1000;

// A vendor's keys, its pinned root and manifests it released.
export interface World {
  readonly name: string;
  readonly rootKeys: readonly KeyPair[];
  readonly rootThreshold: number;
  readonly releaseKeys: readonly KeyPair[];
  readonly releaseThreshold: number;
  readonly rootSigned: Signed;
  readonly root: VerifiedTrustRoot;
  readonly manifests: readonly Signed[];
}

// One signed document and signatures a mutation may add to it.
export interface Seed {
  readonly type: DocType;
  // The world whose keys made it (index into Corpus.worlds).
  readonly world: number;
  readonly signed: Signed;
  readonly extras: readonly Signature[];
}

export interface DeviceAuthSample {
  readonly publicKey: Uint8Array;
  readonly classId: string;
  readonly timestampMs: bigint;
  readonly signature: Uint8Array;
}

export interface Corpus {
  readonly now: Date;
  readonly vendorId: string;
  readonly classId: string;
  readonly policy: ManifestPolicy;
  readonly worlds: readonly World[];
  // Valid successors of worlds[0]'s root (the root seeds also hold attacks on the chain).
  readonly nextRoots: readonly Signed[];
  readonly manifestSeeds: readonly Seed[];
  readonly rootSeeds: readonly Seed[];
  readonly manifestBodies: readonly Uint8Array[];
  readonly rootBodies: readonly Uint8Array[];
  // Encoded envelopes (manifests and roots) and their bodies, as splice donors.
  readonly envelopes: readonly Uint8Array[];
  readonly deviceAuth: readonly DeviceAuthSample[];
  readonly payload: Uint8Array;
  // The timestamp key every corpus root lists.
  readonly timestampKey: KeyPair;
}

let built: Corpus | undefined;

// corpus builds (once per process) and returns the valid documents.
export function corpus(): Corpus {
  built ??= buildCorpus();
  return built;
}

// publicInfo is a key as a trust root lists it.
export function publicInfo(key: KeyPair, label: string): PublicKeyInfo {
  return { keyId: key.keyId, publicKey: key.publicKey, label };
}

function buildCorpus(): Corpus {
  const now = new Date('2030-06-01T12:00:00Z');
  const vendorId = 'acme';
  const classId = 'acme-gateway';
  const keys = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => fuzzKey(`${prefix}-${i}`));
  const rootKeys = keys('root', 3);
  const releaseKeys = keys('release', 3);
  const newRootKeys = keys('next-root', 2);
  const strangers = keys('stranger', 2);
  const timestampKey = fuzzKey('timestamp-0');
  checkFastSigning(rootKeys[0] as KeyPair);

  const rootSpec = (
    over: Partial<TrustRootSpec> & Pick<TrustRootSpec, 'rootKeys'>,
  ): TrustRootSpec => ({
    version: 1,
    expiresAt: new Date(now.getTime() + 365 * day),
    vendorId,
    rootThreshold: 1,
    releaseKeys: [],
    releaseThreshold: 1,
    timestampKeys: [publicInfo(timestampKey, 'timestamp')],
    timestampThreshold: 1,
    ...over,
  });
  const manifestSpec: ManifestSpec = {
    vendorId,
    classId,
    sequence: 7,
    version: '1.2.0',
    expiresAt: new Date(now.getTime() + 30 * day),
    components: [
      {
        name: 'rootfs',
        kind: ComponentKind.ROOTFS,
        size: 4096,
        sha256: toHex(sha256(payloadBytes())),
      },
    ],
    bootAttempts: 3,
    confirmDeadlineMs: 10 * 60 * 1000,
    text: 'release notes',
  };
  const world = (name: string, nRoot: number, tRoot: number, nRel: number, tRel: number) => {
    const roots = rootKeys.slice(0, nRoot);
    const releases = releaseKeys.slice(0, nRel);
    const body = encodeTrustRoot(
      rootSpec({
        rootKeys: roots.map((k) => publicInfo(k, 'root')),
        rootThreshold: tRoot,
        releaseKeys: releases.map((k) => publicInfo(k, 'release')),
        releaseThreshold: tRel,
      }),
    );
    const rootSigned = signWith('pendulum.v1.TrustRoot', body, roots.slice(0, tRoot));
    const manifest = encodeManifest(manifestSpec);
    const irreversible = encodeManifest({ ...manifestSpec, irreversible: true, sequence: 9 });
    return {
      name,
      rootKeys: roots,
      rootThreshold: tRoot,
      releaseKeys: releases,
      releaseThreshold: tRel,
      rootSigned,
      root: verifyPinnedTrustRoot(rootSigned),
      manifests: [
        // Exactly a threshold: removing or spoiling any one signature must refuse it.
        signWith('pendulum.v1.Manifest', manifest, releases.slice(0, tRel)),
        // Every release key and a stranger.
        signWith('pendulum.v1.Manifest', irreversible, [...releases, strangers[0] as KeyPair]),
      ],
    };
  };
  const worlds = [world('2-of-3', 3, 2, 3, 2), world('1-of-1', 1, 1, 1, 1)];
  const first = worlds[0] as World;

  // v2 of the first world: root keys r1, n0, n1 (threshold 2), release key k2.
  const nextKeys = [rootKeys[1] as KeyPair, ...newRootKeys];
  const v2 = (over: Partial<TrustRootSpec> = {}) =>
    encodeTrustRoot(
      rootSpec({
        version: 2,
        rootKeys: nextKeys.map((k) => publicInfo(k, 'root')),
        rootThreshold: 2,
        releaseKeys: [publicInfo(releaseKeys[2] as KeyPair, 'release')],
        ...over,
      }),
    );
  const oldSigners = rootKeys.slice(0, 2);
  const everyone = [...oldSigners, ...newRootKeys];
  const root = 'pendulum.v1.TrustRoot';
  const nextRoots = [
    signWith(root, v2(), [...oldSigners, newRootKeys[0] as KeyPair]),
    signWith(root, v2({ expiresAt: new Date(now.getTime() + 730 * day) }), everyone),
  ];
  const chainAttacks = [
    signWith(root, v2(), newRootKeys), // only its own keys: not vouched for by v1
    signWith(root, v2(), [rootKeys[0] as KeyPair, ...newRootKeys]), // one old key, threshold 2
    signWith(root, v2(), oldSigners), // only the old keys: not by its own threshold
    signWith(root, v2({ version: 3 }), everyone), // skips a version
    signWith(root, v2({ version: 1 }), everyone), // rolls back
    signWith(root, v2({ vendorId: 'evil' }), everyone),
    signWith(root, v2({ expiresAt: new Date(now.getTime() - day) }), everyone),
    signWith('pendulum.v1.Manifest', v2(), everyone), // signed as the wrong document type
  ];

  const manifestSeeds = worlds.flatMap((w, world) =>
    w.manifests.map((signed) => ({
      type: 'pendulum.v1.Manifest' as const,
      world,
      signed,
      extras: signaturesAtHand('pendulum.v1.Manifest', signed.body, [
        ...w.releaseKeys,
        ...w.rootKeys,
        ...strangers,
      ]),
    })),
  );
  const rootSeeds = [
    ...worlds.map((w, world) => ({
      type: 'pendulum.v1.TrustRoot' as const,
      world,
      signed: w.rootSigned,
      extras: signaturesAtHand('pendulum.v1.TrustRoot', w.rootSigned.body, [
        ...w.rootKeys,
        ...w.releaseKeys,
        ...strangers,
      ]),
    })),
    ...[...nextRoots, ...chainAttacks].map((signed) => ({
      type: 'pendulum.v1.TrustRoot' as const,
      world: 0,
      signed,
      extras: signaturesAtHand('pendulum.v1.TrustRoot', signed.body, [
        ...nextKeys,
        ...first.rootKeys,
        ...first.releaseKeys,
        ...strangers,
      ]),
    })),
  ];
  const all = [...manifestSeeds, ...rootSeeds];
  const corpusValue: Corpus = {
    now,
    vendorId,
    classId,
    // Committed at 5 with a floor of 7 (an irreversible release was committed
    // and the journal reset since): the floor is what refuses sequence 6.
    policy: { now, classId, aboveSequence: 5, floor: 7, maxComponentBytes: 64 * 1024 * 1024 },
    worlds,
    nextRoots,
    manifestSeeds,
    rootSeeds,
    manifestBodies: manifestSeeds.map((s) => s.signed.body),
    rootBodies: rootSeeds.map((s) => s.signed.body),
    envelopes: all.map((s) => encodeSigned(s.signed)),
    deviceAuth: deviceAuthSamples(now, classId),
    payload: payloadBytes(),
    timestampKey,
  };
  return corpusValue;
}

function deviceAuthSamples(now: Date, classId: string): DeviceAuthSample[] {
  const devices = [fuzzKey('device-0'), fuzzKey('device-1')];
  const samples: [KeyPair, string, bigint][] = [
    [devices[0] as KeyPair, classId, BigInt(now.getTime())],
    [devices[1] as KeyPair, classId, BigInt(now.getTime()) + 1000n],
    [devices[0] as KeyPair, 'x', 0n],
    [devices[1] as KeyPair, 'κλάση-🙂', -5n],
    [devices[0] as KeyPair, 'a\u0000b', 2n ** 63n - 1n],
  ];
  return samples.map(([key, cls, ts]) => ({
    publicKey: key.publicKey,
    classId: cls,
    timestampMs: ts,
    signature: signFast(deviceAuthInput(key.publicKey, cls, ts), key),
  }));
}

function payloadBytes(): Uint8Array {
  return new Uint8Array(4096).map((_, i) => (i * 31 + 7) & 0xff);
}
