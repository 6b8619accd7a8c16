// A manufacturer's signed documents for tests that run on the real clock:
// trust roots and manifests for images, built from keys the test holds.
import type { Offer } from '../../src/gen/pendulum/v1/device_pb.js';
import type { Signed } from '../../src/gen/pendulum/v1/manifest_pb.js';
import {
  ComponentKind,
  encodeFreshness,
  encodeManifest,
  encodeTrustRoot,
  freshnessType,
  generateKeyPair,
  type KeyPair,
  type ManifestSpec,
  sha256,
  signDocument,
  signManifest,
  signTrustRoot,
  toHex,
} from '../../src/trust/index.js';

const day = 86_400_000;

// The server's online timestamp key in tests: every root rootDocument makes
// lists it, and test servers and fake sources sign freshness with it.
export const testTimestampKey: KeyPair = generateKeyPair();
// The device id fake sources sign freshness statements for.
export const testDeviceId = 'd'.repeat(64);

export interface RootDocument {
  readonly version: number;
  readonly rootKeys: readonly KeyPair[];
  readonly releaseKeys: readonly KeyPair[];
  // Who signs it: for a new version, keys of the previous root and of this one.
  readonly signers: readonly KeyPair[];
  readonly releaseThreshold?: number;
  readonly expiresAt?: Date;
  readonly vendorId?: string;
  // Default: testTimestampKey.
  readonly timestampKeys?: readonly KeyPair[];
}

// rootDocument signs a trust root (vendor "acme", valid for a year, root threshold 1).
export function rootDocument(spec: RootDocument): Signed {
  const info = (key: KeyPair, i: number) => ({
    keyId: key.keyId,
    publicKey: key.publicKey,
    label: `key-${i}`,
  });
  return signTrustRoot(
    encodeTrustRoot({
      version: spec.version,
      expiresAt: spec.expiresAt ?? new Date(Date.now() + 365 * day),
      vendorId: spec.vendorId ?? 'acme',
      rootKeys: spec.rootKeys.map(info),
      rootThreshold: 1,
      releaseKeys: spec.releaseKeys.map(info),
      releaseThreshold: spec.releaseThreshold ?? 1,
      timestampKeys: (spec.timestampKeys ?? [testTimestampKey]).map(info),
      timestampThreshold: 1,
    }),
    spec.signers,
  );
}

// freshnessFor is the signed statement an honest server sends with a
// check-in reply (valid for an hour from `time`).
export function freshnessFor(options: {
  readonly nonce: Uint8Array;
  readonly offer: Offer | undefined;
  readonly deviceId?: string;
  readonly key?: KeyPair;
  readonly time?: Date;
  readonly ttlMs?: number;
}): Signed {
  const time = options.time ?? new Date();
  return signDocument(
    freshnessType,
    encodeFreshness({
      time,
      expiresAt: new Date(time.getTime() + (options.ttlMs ?? 3_600_000)),
      deviceId: options.deviceId ?? testDeviceId,
      nonce: options.nonce,
      offer: options.offer,
    }),
    [options.key ?? testTimestampKey],
  );
}

// signImage signs a manifest installing `image` as the rootfs (defaults:
// vendor "acme", class "acme-gateway", sequence 2, valid for a day).
export function signImage(
  image: Uint8Array,
  keys: readonly KeyPair[],
  spec: Partial<ManifestSpec> = {},
): Signed {
  return signManifest(
    encodeManifest({
      vendorId: 'acme',
      classId: 'acme-gateway',
      sequence: 2,
      version: '1.1.0',
      expiresAt: new Date(Date.now() + day),
      components: [
        {
          name: 'rootfs',
          kind: ComponentKind.ROOTFS,
          size: image.length,
          sha256: toHex(sha256(image)),
        },
      ],
      bootAttempts: 3,
      confirmDeadlineMs: 60_000,
      ...spec,
    }),
    keys,
  );
}
