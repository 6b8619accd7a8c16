// What people see about trust documents: a root's keys and thresholds, a
// manifest's release, how far each is from the signatures it needs, and
// whether a device would take it — decided by the trust core's own checks.
import { fromBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { PendulumError } from '../errors.js';
import { ManifestSchema, type Signed } from '../gen/pendulum/v1/manifest_pb.js';
import {
  bytesEqual,
  checkTrustRoot,
  type DocumentType,
  documentTypeOf,
  type PublicKeyInfo,
  parseSignedFile,
  type SignatureStatus,
  signatureStatus,
  type TrustRootContent,
  type VerifiedTrustRoot,
  verifyManifest,
  verifyPinnedTrustRoot,
} from '../trust/index.js';
import { readText } from './common.js';

// A signed file as read: signed, partly signed or not signed yet.
export interface TrustDocument {
  readonly source: string;
  readonly type: DocumentType;
  readonly signed: Signed;
}

// How a document stands, for a person collecting signatures.
export interface Assessment {
  readonly lines: readonly string[];
  // The keys whose signatures count toward a threshold here.
  readonly signers: readonly PublicKeyInfo[];
  // A root above v1 checked without the root it follows: its keys are unknown.
  readonly previousUnknown: boolean;
  // What no further signature can fix (a version that does not follow, an expiry passed).
  readonly bodyProblem: PendulumError | undefined;
  // Who was asked and what they would say; undefined when that cannot be
  // known without the current root.
  readonly verdict:
    | { readonly subject: string; readonly refusal: PendulumError | undefined }
    | undefined;
}

// readDocument reads a signed file and tells whether it is a root or a manifest.
export async function readDocument(path: string): Promise<TrustDocument> {
  const signed = parseSignedFile(await readText(path), path);
  return { source: path, type: documentTypeOf(signed.body, path), signed };
}

// readCurrentRoot reads the root devices hold now; it must carry its own threshold.
export async function readCurrentRoot(path: string): Promise<VerifiedTrustRoot> {
  try {
    return verifyPinnedTrustRoot(parseSignedFile(await readText(path), path));
  } catch (error) {
    throw PendulumError.from(error).withPrefix(path);
  }
}

// assess checks `doc` the way a device on `current` would, and says why.
export function assess(
  doc: TrustDocument,
  current: VerifiedTrustRoot | undefined,
  now: Date,
): Assessment {
  return doc.type === 'pendulum.v1.TrustRoot'
    ? assessRoot(doc, current, now)
    : assessManifest(doc, current, now);
}

function assessRoot(doc: TrustDocument, current: VerifiedTrustRoot | undefined, now: Date) {
  // The current root itself is checked as it stands on its own.
  const previous =
    current !== undefined && !bytesEqual(current.signed.body, doc.signed.body)
      ? current
      : undefined;
  const check = checkTrustRoot(doc.signed, previous, now);
  const { root } = check;
  const lines = [...describeRoot(root), 'signatures:'];
  if (check.previous !== undefined && previous !== undefined) {
    lines.push(
      ...statusLines(`root keys of v${previous.version}`, check.previous, previous.rootKeys),
    );
  } else if (root.version > 1 && current === undefined) {
    lines.push(
      `  root keys of v${root.version - 1}: not checked here (pass --current with the v${root.version - 1} root)`,
    );
  }
  lines.push(...statusLines(`own root keys of v${root.version}`, check.own, root.rootKeys));
  let verdict: Assessment['verdict'];
  if (previous !== undefined)
    verdict = { subject: `a device on trust root v${previous.version}`, refusal: check.refusal };
  else if (current !== undefined)
    verdict = {
      subject: `a device on trust root v${current.version} (this root)`,
      refusal: check.refusal,
    };
  else if (root.version === 1)
    verdict = { subject: 'a server or device taking it as its first root', refusal: check.refusal };
  return {
    lines: [...lines, verdictLine(verdict)],
    signers: [...root.rootKeys, ...(previous?.rootKeys ?? [])],
    previousUnknown: root.version > 1 && current === undefined,
    bodyProblem: check.bodyProblem,
    verdict,
  };
}

function assessManifest(doc: TrustDocument, root: VerifiedTrustRoot | undefined, now: Date) {
  const lines = [...describeManifest(doc.signed.body), 'signatures:'];
  if (root === undefined) {
    lines.push('  release keys: not checked here (pass --current with the trust root)');
    return {
      lines,
      signers: [],
      previousUnknown: false,
      bodyProblem: undefined,
      verdict: undefined,
    };
  }
  const status = signatureStatus(
    'pendulum.v1.Manifest',
    doc.signed,
    root.releaseKeys,
    root.releaseThreshold,
  );
  lines.push(
    ...statusLines(`release keys of trust root v${root.version}`, status, root.releaseKeys),
  );
  let refusal: PendulumError | undefined;
  try {
    // What the server checks at publish time and every device before a byte is fetched.
    verifyManifest(doc.signed, root, {
      now,
      classId: null,
      aboveSequence: null,
      floor: null,
      maxComponentBytes: Number.MAX_SAFE_INTEGER,
    });
  } catch (error) {
    refusal = PendulumError.from(error);
  }
  const verdict = { subject: `a device on trust root v${root.version}`, refusal };
  return {
    lines: [...lines, verdictLine(verdict)],
    signers: root.releaseKeys,
    previousUnknown: false,
    bodyProblem: undefined,
    verdict,
  };
}

// describeRoot lists a root's version, vendor, expiry, keys and thresholds.
export function describeRoot(root: TrustRootContent): string[] {
  return [
    `trust root v${root.version} for vendor "${root.vendorId}", expires ${root.expiresAt.toISOString()}`,
    `  root keys (${root.rootThreshold} of ${root.rootKeys.length}):`,
    ...root.rootKeys.map((key) => `    ${key.keyId}  ${key.label}`),
    `  release keys (${root.releaseThreshold} of ${root.releaseKeys.length}):`,
    ...root.releaseKeys.map((key) => `    ${key.keyId}  ${key.label}`),
    `  timestamp keys (${root.timestampThreshold} of ${root.timestampKeys.length}):`,
    ...root.timestampKeys.map((key) => `    ${key.keyId}  ${key.label}`),
  ];
}

function describeManifest(body: Uint8Array): string[] {
  const m = fromBinary(ManifestSchema, body);
  const expires =
    m.expires === undefined ? 'never (invalid)' : timestampDate(m.expires).toISOString();
  return [
    `manifest ${m.classId} ${m.version} (sequence ${m.sequence}) for vendor "${m.vendorId}", expires ${expires}`,
    ...m.components.map(
      (c) => `  ${c.name}: ${c.size} bytes, sha256 ${Buffer.from(c.sha256).toString('hex')}`,
    ),
  ];
}

// statusLines says how many of a threshold are met and whose signatures are missing.
function statusLines(
  label: string,
  status: SignatureStatus,
  keys: readonly PublicKeyInfo[],
): string[] {
  const have = status.valid.length;
  const need = status.threshold;
  const name = (keyId: string) =>
    `${keyId.slice(0, 16)}  ${keys.find((k) => k.keyId === keyId)?.label ?? ''}`.trimEnd();
  const lines = [
    `  ${label} (${need} required): ${have} signed, ${have >= need ? 'met' : `${need - have} more from:`}`,
  ];
  if (have < need) {
    for (const key of keys.filter((k) => !status.valid.includes(k.keyId)))
      lines.push(`    ${name(key.keyId)}`);
  }
  for (const keyId of status.invalid)
    lines.push(`  the signature by ${name(keyId)} does not verify over this body`);
  return lines;
}

function verdictLine(verdict: Assessment['verdict']): string {
  if (verdict === undefined) return 'whether a device would accept it: not known without --current';
  if (verdict.refusal === undefined) return `${verdict.subject} would accept it`;
  return `${verdict.subject} would refuse it: ${verdict.refusal.code}: ${verdict.refusal.message}`;
}
