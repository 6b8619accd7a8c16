// Trust fixtures built in code from freshly generated keys: roots and
// manifests with overrides, never hand-edited bytes.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { PendulumError } from '../../src/errors.js';
import {
  type Manifest,
  ManifestSchema,
  type Signed,
  type TrustRoot,
  TrustRootSchema,
} from '../../src/gen/pendulum/v1/manifest_pb.js';
import {
  ComponentKind,
  encodeManifest,
  encodeTrustRoot,
  type ManifestSpec,
  signManifest,
  signTrustRoot,
  type TrustRootSpec,
} from '../../src/trust/authoring.js';
import { sha256, toHex } from '../../src/trust/digest.js';
import { generateKeyPair, type KeyPair, type PublicKeyInfo } from '../../src/trust/keys.js';
import type { ManifestPolicy } from '../../src/trust/manifest.js';
import { type VerifiedTrustRoot, verifyPinnedTrustRoot } from '../../src/trust/trust-root.js';

// The verifier's clock in every trust test.
export const now = new Date('2030-06-01T12:00:00Z');
export const day = 24 * 60 * 60 * 1000;
export const vendorId = 'acme';
export const classId = 'acme-gateway-v2';

// keys makes `count` fresh Ed25519 key pairs.
export function keys(count: number): KeyPair[] {
  return Array.from({ length: count }, () => generateKeyPair());
}

// publicInfo is the public half of a key pair, as a trust root lists it.
export function publicInfo(pair: KeyPair, label = 'test'): PublicKeyInfo {
  return { keyId: pair.keyId, publicKey: pair.publicKey, label };
}

// The online timestamp key every fixture root lists.
export const timestampKey: KeyPair = generateKeyPair();

// A vendor's key material and its first (pinned) trust root.
export interface World {
  readonly rootKeys: KeyPair[];
  readonly releaseKeys: KeyPair[];
  readonly timestampKey: KeyPair;
  readonly rootSpec: TrustRootSpec;
  readonly rootSigned: Signed;
  readonly root: VerifiedTrustRoot;
}

export interface WorldOptions {
  readonly rootKeys?: number;
  readonly rootThreshold?: number;
  readonly releaseKeys?: number;
  readonly releaseThreshold?: number;
}

// createWorld generates keys and a self-signed v1 root trusted as pinned.
export function createWorld(options: WorldOptions = {}): World {
  const rootKeys = keys(options.rootKeys ?? 1);
  const releaseKeys = keys(options.releaseKeys ?? 1);
  const rootSpec = trustRootSpec(rootKeys, releaseKeys, {
    rootThreshold: options.rootThreshold ?? 1,
    releaseThreshold: options.releaseThreshold ?? 1,
  });
  const rootSigned = signTrustRoot(encodeTrustRoot(rootSpec), rootKeys);
  return {
    rootKeys,
    releaseKeys,
    timestampKey,
    rootSpec,
    rootSigned,
    root: verifyPinnedTrustRoot(rootSigned),
  };
}

// trustRootSpec is a valid v1 root spec for the given keys, with overrides.
export function trustRootSpec(
  rootKeys: readonly KeyPair[],
  releaseKeys: readonly KeyPair[],
  overrides: Partial<TrustRootSpec> = {},
): TrustRootSpec {
  return {
    version: 1,
    expiresAt: new Date(now.getTime() + 365 * day),
    vendorId,
    rootKeys: rootKeys.map((key) => publicInfo(key, 'root')),
    rootThreshold: 1,
    releaseKeys: releaseKeys.map((key) => publicInfo(key, 'release')),
    releaseThreshold: 1,
    timestampKeys: [publicInfo(timestampKey, 'timestamp')],
    timestampThreshold: 1,
    ...overrides,
  };
}

// signedRoot encodes a root spec and signs it with `signers`.
export function signedRoot(spec: TrustRootSpec, signers: readonly KeyPair[]): Signed {
  return signTrustRoot(encodeTrustRoot(spec), signers);
}

// rootBody encodes a valid root spec, then lets `mutate` change the message
// (for fields the authoring API cannot express).
export function rootBody(spec: TrustRootSpec, mutate: (root: TrustRoot) => void): Uint8Array {
  const root = fromBinary(TrustRootSchema, encodeTrustRoot(spec));
  mutate(root);
  return toBinary(TrustRootSchema, root);
}

// manifestSpec is a valid manifest spec for the fixture vendor and class.
export function manifestSpec(overrides: Partial<ManifestSpec> = {}): ManifestSpec {
  return {
    vendorId,
    classId,
    sequence: 7,
    version: '1.2.0',
    expiresAt: new Date(now.getTime() + 30 * day),
    components: [
      {
        name: 'rootfs',
        kind: ComponentKind.ROOTFS,
        size: 1024 * 1024,
        sha256: toHex(sha256(new TextEncoder().encode('rootfs image'))),
      },
    ],
    bootAttempts: 3,
    confirmDeadlineMs: 10 * 60 * 1000,
    text: 'release notes',
    ...overrides,
  };
}

// signedManifest encodes a manifest spec and signs it (by default with the
// world's release keys).
export function signedManifest(
  world: World,
  overrides: Partial<ManifestSpec> = {},
  signers: readonly KeyPair[] = world.releaseKeys,
): Signed {
  return signManifest(encodeManifest(manifestSpec(overrides)), signers);
}

// manifestBody encodes a valid manifest, then lets `mutate` change the message
// (for fields the authoring API cannot express).
export function manifestBody(
  mutate: (manifest: Manifest) => void,
  overrides: Partial<ManifestSpec> = {},
): Uint8Array {
  const manifest = fromBinary(ManifestSchema, encodeManifest(manifestSpec(overrides)));
  mutate(manifest);
  return toBinary(ManifestSchema, manifest);
}

// devicePolicy is what a device of the fixture class, committed at sequence 6, asks.
export function devicePolicy(overrides: Partial<ManifestPolicy> = {}): ManifestPolicy {
  return {
    now,
    classId,
    aboveSequence: 6,
    floor: 0,
    maxComponentBytes: 64 * 1024 * 1024,
    ...overrides,
  };
}

// thrown runs `fn` and returns the PendulumError it throws; anything else fails the test.
export function thrown(fn: () => unknown): PendulumError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PendulumError) return error;
    throw error;
  }
  throw new Error('expected a PendulumError, but nothing was thrown');
}
