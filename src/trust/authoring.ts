// Building trust roots and manifests: what the publisher CLI signs. Pure.
import { create, toBinary } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  ComponentKind,
  KeyAlgorithm,
  ManifestFlag,
  ManifestSchema,
  PayloadEncoding,
  type Signed,
  TrustRootSchema,
} from '../gen/pendulum/v1/manifest_pb.js';
import { fromHex } from './digest.js';
import type { KeyPair, PublicKeyInfo } from './keys.js';
import { manifestFormatVersion } from './manifest.js';
import { signDocument } from './signatures.js';

export interface TrustRootSpec {
  readonly version: number;
  readonly expiresAt: Date;
  readonly vendorId: string;
  readonly rootKeys: readonly PublicKeyInfo[];
  readonly rootThreshold: number;
  readonly releaseKeys: readonly PublicKeyInfo[];
  readonly releaseThreshold: number;
  readonly timestampKeys: readonly PublicKeyInfo[];
  readonly timestampThreshold: number;
}

export interface ComponentSpec {
  readonly name: string;
  readonly kind: ComponentKind;
  readonly size: number;
  readonly sha256: string; // hex
}

export interface ManifestSpec {
  readonly vendorId: string;
  readonly classId: string;
  readonly sequence: number;
  readonly version: string;
  readonly expiresAt: Date;
  readonly components: readonly ComponentSpec[];
  readonly bootAttempts: number;
  readonly confirmDeadlineMs: number;
  readonly irreversible?: boolean;
  // The anti-rollback floor the release sets on commit (at most `sequence`).
  readonly rollbackFloor?: number;
  readonly text?: string;
}

// encodeTrustRoot serialises a trust root body, ready to sign.
export function encodeTrustRoot(spec: TrustRootSpec): Uint8Array {
  const key = (info: PublicKeyInfo) => ({
    algorithm: KeyAlgorithm.ED25519,
    publicKey: info.publicKey,
    label: info.label,
  });
  return toBinary(
    TrustRootSchema,
    create(TrustRootSchema, {
      version: spec.version,
      expires: timestampFromDate(spec.expiresAt),
      vendorId: spec.vendorId,
      rootKeys: spec.rootKeys.map(key),
      rootThreshold: spec.rootThreshold,
      releaseKeys: spec.releaseKeys.map(key),
      releaseThreshold: spec.releaseThreshold,
      timestampKeys: spec.timestampKeys.map(key),
      timestampThreshold: spec.timestampThreshold,
    }),
  );
}

// signTrustRoot signs a trust root body with root keys (for a new version:
// keys of the previous root and of the new one).
export function signTrustRoot(body: Uint8Array, keys: readonly KeyPair[]): Signed {
  return signDocument('pendulum.v1.TrustRoot', body, keys);
}

// encodeManifest serialises a manifest body, ready to sign.
export function encodeManifest(spec: ManifestSpec): Uint8Array {
  return toBinary(
    ManifestSchema,
    create(ManifestSchema, {
      formatVersion: manifestFormatVersion,
      vendorId: spec.vendorId,
      classId: spec.classId,
      sequence: BigInt(spec.sequence),
      version: spec.version,
      expires: timestampFromDate(spec.expiresAt),
      components: spec.components.map((component) => ({
        name: component.name,
        kind: component.kind,
        size: BigInt(component.size),
        sha256: fromHex(component.sha256, `component ${component.name} sha256`, 32),
        encoding: PayloadEncoding.RAW,
      })),
      health: {
        bootAttempts: spec.bootAttempts,
        confirmDeadline: durationFromMs(spec.confirmDeadlineMs),
      },
      flags: spec.irreversible ? [ManifestFlag.IRREVERSIBLE] : [],
      text: spec.text ?? '',
      rollbackFloor: BigInt(spec.rollbackFloor ?? 0),
    }),
  );
}

// signManifest signs a manifest body with release keys.
export function signManifest(body: Uint8Array, keys: readonly KeyPair[]): Signed {
  return signDocument('pendulum.v1.Manifest', body, keys);
}

export { ComponentKind };
