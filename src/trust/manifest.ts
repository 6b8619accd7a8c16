// Manifest verification, in the order DESIGN.md gives: signature threshold →
// decode → expiry → vendor/class → sequence (and anti-rollback floor) → sizes. Pure: bytes, keys,
// policy and the current time in; a verified manifest out, or a typed error.
import { fromBinary } from '@bufbuild/protobuf';
import { durationMs, timestampDate } from '@bufbuild/protobuf/wkt';
import { PendulumError } from '../errors.js';
import {
  ComponentKind,
  type Manifest,
  ManifestFlag,
  ManifestSchema,
  PayloadEncoding,
  type Signed,
} from '../gen/pendulum/v1/manifest_pb.js';
import { sha256, toHex } from './digest.js';
import { checkEnvelope } from './envelope.js';
import { verifyThreshold } from './signatures.js';
import type { VerifiedTrustRoot } from './trust-root.js';

export const manifestFormatVersion = 1;
// A manifest larger than this is refused before it is parsed.
export const maxManifestBytes = 256 * 1024;
// Bounds on the health policy a manifest may ask for.
export const maxBootAttempts = 16;
export const maxConfirmDeadlineMs = 24 * 60 * 60 * 1000;
// What a component name may be: a label, not a path.
export const componentNamePattern = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface VerifiedComponent {
  readonly name: string;
  readonly kind: ComponentKind;
  readonly size: number;
  readonly sha256: string; // lower-case hex
  readonly encoding: PayloadEncoding;
}

export interface VerifiedManifest {
  // Hex SHA-256 of the signed body: the release id.
  readonly id: string;
  readonly signed: Signed;
  readonly signers: readonly string[];
  readonly vendorId: string;
  readonly classId: string;
  readonly sequence: number;
  readonly version: string;
  readonly expiresAt: Date;
  readonly components: readonly VerifiedComponent[];
  readonly bootAttempts: number;
  readonly confirmDeadlineMs: number;
  readonly irreversible: boolean;
  // The anti-rollback floor this release asks for once committed (at most `sequence`).
  readonly rollbackFloor: number;
  readonly text: string;
}

export interface ManifestPolicy {
  readonly now: Date;
  // The device's class; null accepts any class (the server, at publish time).
  readonly classId: string | null;
  // The sequence the manifest must be above; null accepts any (the server).
  readonly aboveSequence: number | null;
  // The device's persisted anti-rollback floor: the sequence must be at least
  // this; null accepts any (the server).
  readonly floor: number | null;
  // Upper bound on each component's size (the slot size on a device).
  readonly maxComponentBytes: number;
}

// verifyManifest verifies a signed manifest against a trust root and policy.
export function verifyManifest(
  signed: Signed,
  root: VerifiedTrustRoot,
  policy: ManifestPolicy,
): VerifiedManifest {
  checkEnvelope(signed, maxManifestBytes, 'manifest');
  // TUF 5.3.10 again, here: a root held in memory must not outlive its expiry.
  if (root.expiresAt.getTime() <= policy.now.getTime()) {
    throw new PendulumError(
      'EXPIRED',
      `trust root v${root.version} expired at ${root.expiresAt.toISOString()}`,
      {
        context: { field: 'trust_root.expires', version: root.version },
      },
    );
  }
  const signers = verifyThreshold(
    'pendulum.v1.Manifest',
    signed,
    root.releaseKeys,
    root.releaseThreshold,
    'manifest',
  );
  const manifest = decodeManifest(signed.body);
  const fail = (
    code: 'EXPIRED' | 'INCOMPATIBLE' | 'ROLLBACK_REJECTED' | 'TOO_LARGE',
    message: string,
    field: string,
  ) =>
    new PendulumError(code, `manifest ${manifest.version || '(no version)'}: ${message}`, {
      context: { field, sequence: Number(manifest.sequence) },
    });
  const field = (name: string, problem: string) =>
    new PendulumError('MALFORMED', `manifest: field "${name}" ${problem}`, {
      context: { field: name },
    });

  if (manifest.formatVersion !== manifestFormatVersion) {
    throw fail(
      'INCOMPATIBLE',
      `format version ${manifest.formatVersion} is not supported (want ${manifestFormatVersion})`,
      'format_version',
    );
  }
  if (manifest.expires === undefined) throw field('expires', 'is missing');
  const expiresAt = timestampDate(manifest.expires);
  // Outside the Date range it would compare as never expiring.
  if (Number.isNaN(expiresAt.getTime())) throw field('expires', 'is out of range');
  if (expiresAt.getTime() <= policy.now.getTime()) {
    throw fail('EXPIRED', `expired at ${expiresAt.toISOString()}`, 'expires');
  }
  if (manifest.vendorId !== root.vendorId) {
    throw fail(
      'INCOMPATIBLE',
      `vendor "${manifest.vendorId}" is not the trust root's "${root.vendorId}"`,
      'vendor_id',
    );
  }
  if (manifest.classId === '') throw field('class_id', 'is empty');
  if (policy.classId !== null && manifest.classId !== policy.classId) {
    throw fail(
      'INCOMPATIBLE',
      `class "${manifest.classId}" is not this device's "${policy.classId}"`,
      'class_id',
    );
  }
  const sequence = safeNumber(manifest.sequence, 'sequence', field);
  if (sequence < 1) throw field('sequence', 'must be at least 1');
  const rollbackFloor = safeNumber(manifest.rollbackFloor, 'rollback_floor', field);
  // A release cannot forbid itself: its floor is at most its own sequence.
  if (rollbackFloor > sequence)
    throw field('rollback_floor', `(${rollbackFloor}) is above the sequence ${sequence}`);
  if (policy.aboveSequence !== null && sequence <= policy.aboveSequence) {
    throw fail(
      'ROLLBACK_REJECTED',
      `sequence ${sequence} is not above the committed ${policy.aboveSequence}`,
      'sequence',
    );
  }
  // The floor survives a reset of the device's journal (go-tuf CVE-2022-29173
  // is what trusting a reset counter looks like).
  if (policy.floor !== null && sequence < policy.floor) {
    throw fail(
      'ROLLBACK_REJECTED',
      `sequence ${sequence} is below the device's anti-rollback floor ${policy.floor}`,
      'sequence',
    );
  }
  if (manifest.version === '') throw field('version', 'is empty');
  const components = verifyComponents(manifest, policy, field, fail);
  const health = manifest.health;
  if (health === undefined) throw field('health', 'is missing');
  if (health.bootAttempts < 1 || health.bootAttempts > maxBootAttempts) {
    throw field('health.boot_attempts', `must be between 1 and ${maxBootAttempts}`);
  }
  const confirmDeadlineMs =
    health.confirmDeadline === undefined ? 0 : durationMs(health.confirmDeadline);
  if (confirmDeadlineMs <= 0 || confirmDeadlineMs > maxConfirmDeadlineMs) {
    throw field('health.confirm_deadline', 'must be above zero and at most 24h');
  }
  return {
    id: toHex(sha256(signed.body)),
    signed,
    signers,
    vendorId: manifest.vendorId,
    classId: manifest.classId,
    sequence,
    version: manifest.version,
    expiresAt,
    components,
    bootAttempts: health.bootAttempts,
    confirmDeadlineMs,
    irreversible: manifest.flags.includes(ManifestFlag.IRREVERSIBLE),
    rollbackFloor,
    text: manifest.text,
  };
}

// floorOnCommit is the anti-rollback floor a device rises to when it commits
// the release: its rollback_floor, or its own sequence when irreversible.
export function floorOnCommit(manifest: VerifiedManifest): number {
  return Math.max(manifest.rollbackFloor, manifest.irreversible ? manifest.sequence : 0);
}

function decodeManifest(body: Uint8Array): Manifest {
  try {
    return fromBinary(ManifestSchema, body);
  } catch (error) {
    throw new PendulumError('MALFORMED', 'manifest body does not decode', { cause: error });
  }
}

function verifyComponents(
  manifest: Manifest,
  policy: ManifestPolicy,
  field: (name: string, problem: string) => PendulumError,
  fail: (code: 'TOO_LARGE', message: string, field: string) => PendulumError,
): VerifiedComponent[] {
  if (manifest.components.length === 0) throw field('components', 'is empty');
  const names = new Set<string>();
  return manifest.components.map((component, index) => {
    const at = `components[${index}]`;
    if (component.name === '' || names.has(component.name))
      throw field(`${at}.name`, 'is empty or repeated');
    // A name is a label, never a path: nothing a file system could resolve
    // outside where the agent puts it ("../etc/shadow", "/dev/sda", "a/b").
    if (!componentNamePattern.test(component.name))
      throw field(
        `${at}.name`,
        'must be 1 to 64 letters, digits, ".", "_" or "-", start with a letter or digit, and hold no ".."',
      );
    names.add(component.name);
    if (component.kind === ComponentKind.UNSPECIFIED) throw field(`${at}.kind`, 'is unspecified');
    if (component.encoding !== PayloadEncoding.RAW) throw field(`${at}.encoding`, 'must be raw');
    if (component.sha256.length !== 32) throw field(`${at}.sha256`, 'must be 32 bytes');
    const size = safeNumber(component.size, `${at}.size`, field);
    if (size < 1) throw field(`${at}.size`, 'must be above zero');
    if (size > policy.maxComponentBytes) {
      throw fail(
        'TOO_LARGE',
        `component "${component.name}" is ${size} bytes, above the limit of ${policy.maxComponentBytes}`,
        `${at}.size`,
      );
    }
    return {
      name: component.name,
      kind: component.kind,
      size,
      sha256: toHex(component.sha256),
      encoding: component.encoding,
    };
  });
}

function safeNumber(
  value: bigint,
  name: string,
  field: (name: string, problem: string) => PendulumError,
): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw field(name, 'is above 2^53');
  return Number(value);
}
