// pendulum trust sign | merge | verify: threshold signatures collected on
// separate machines, for trust roots and manifests alike. Each signer adds one
// signature to a copy of the same file; the copies are merged; verify says
// whether a device would take the result, and which threshold is short.
import type { Command } from 'commander';
import { PendulumError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import {
  addSignature,
  formatSignedFile,
  type KeyPair,
  mergeSignatures,
  parseSecretKeyFile,
  parseSignedFile,
  type VerifiedTrustRoot,
} from '../trust/index.js';
import { print, readText } from './common.js';
import {
  type Assessment,
  assess,
  readCurrentRoot,
  readDocument,
  type TrustDocument,
} from './trust-report.js';

const currentHelp =
  'the trust root devices hold now: the one a new root must follow, or whose release keys sign a manifest';

// registerTrustCosign adds `trust sign`, `trust merge` and `trust verify`.
export function registerTrustCosign(trust: Command): void {
  trust
    .command('sign <file>')
    .description(
      'add one signature to a trust root or manifest file, keeping the ones it has (works on unsigned files from "trust rotate")',
    )
    .requiredOption('--key <file.key>', 'the secret key to sign with')
    .option('--current <root.json>', currentHelp)
    .option('--out <file>', 'where to write the result (default: the file itself)')
    .action(async (file: string, options: { key: string; current?: string; out?: string }) => {
      const doc = await readDocument(file);
      const key = parseSecretKeyFile(await readText(options.key), options.key);
      const current = await optionalRoot(options.current);
      const now = new Date();
      const before = assess(doc, current, now);
      if (before.bodyProblem !== undefined) {
        throw before.bodyProblem.withPrefix(`${file} is not worth signing`);
      }
      requireSigner(doc, before, key, options.key, current);
      const { signed, added } = addSignature(doc.type, doc.signed, key);
      const out = options.out ?? file;
      if (added || out !== file) await writeFileAtomic(out, formatSignedFile(signed));
      const who = `${key.keyId.slice(0, 16)} (${key.label || options.key})`;
      print(
        added
          ? `signed by ${who}: wrote ${out}`
          : `${file} already carries a signature by ${who}; nothing added${out === file ? '' : `, copied to ${out}`}`,
      );
      for (const line of assess({ ...doc, signed }, current, now).lines) print(line);
    });

  trust
    .command('merge <files...>')
    .description(
      'merge the signatures of copies of one trust root or manifest signed on separate machines (their bodies must be identical)',
    )
    .requiredOption('--out <file>', 'where to write the merged file')
    .option('--current <root.json>', currentHelp)
    .action(async (files: string[], options: { out: string; current?: string }) => {
      if (files.length < 2) {
        throw new PendulumError('INVALID_ARGUMENT', 'give at least two files to merge', {
          context: { field: 'files' },
        });
      }
      const [first, ...rest] = files;
      if (first === undefined) return;
      const doc = await readDocument(first);
      const copies = [
        { source: first, signed: doc.signed },
        ...(await Promise.all(
          rest.map(async (path) => ({
            source: path,
            signed: parseSignedFile(await readText(path), path),
          })),
        )),
      ];
      const current = await optionalRoot(options.current);
      const now = new Date();
      const merged = mergeSignatures(doc.type, copies, assess(doc, current, now).signers);
      await writeFileAtomic(options.out, formatSignedFile(merged));
      print(
        `merged ${merged.signatures.length} signature(s) from ${files.length} files into ${options.out}`,
      );
      for (const line of assess({ ...doc, signed: merged }, current, now).lines) print(line);
    });

  trust
    .command('verify <file>')
    .description(
      'say whether a device on the current trust root would accept a new root (or a manifest), and which threshold is missing',
    )
    .option('--current <root.json>', `${currentHelp} (needed above v1 and for manifests)`)
    .action(async (file: string, options: { current?: string }) => {
      const doc = await readDocument(file);
      const current = await optionalRoot(options.current);
      const verdict = checkAsDevice(doc, current, (line) => print(line));
      if (verdict.refusal !== undefined)
        throw verdict.refusal.withPrefix(`${verdict.subject} would refuse ${file}`);
    });
}

// checkAsDevice assesses a document as a device on `current` would, printing
// the report; it throws when that cannot be known without the current root.
export function checkAsDevice(
  doc: TrustDocument,
  current: VerifiedTrustRoot | undefined,
  report: (line: string) => void,
): NonNullable<Assessment['verdict']> {
  const assessment = assess(doc, current, new Date());
  if (assessment.verdict === undefined) {
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `${doc.source} can only be checked against the trust root devices hold now: pass --current <root.json>`,
      { context: { field: '--current' } },
    );
  }
  for (const line of assessment.lines) report(line);
  return assessment.verdict;
}

async function optionalRoot(path: string | undefined): Promise<VerifiedTrustRoot | undefined> {
  return path === undefined ? undefined : readCurrentRoot(path);
}

// requireSigner refuses a key whose signature would count toward no threshold.
function requireSigner(
  doc: TrustDocument,
  assessment: Assessment,
  key: KeyPair,
  keyFile: string,
  current: VerifiedTrustRoot | undefined,
): void {
  if (assessment.signers.some((signer) => signer.keyId === key.keyId)) return;
  if (doc.type === 'pendulum.v1.Manifest') {
    if (current === undefined) {
      throw new PendulumError(
        'INVALID_ARGUMENT',
        `to sign a manifest, pass --current <root.json>: the trust root whose release keys sign it`,
        { context: { field: '--current' } },
      );
    }
    throw new PendulumError(
      'UNTRUSTED_KEY',
      `${keyFile} is not a release key of trust root v${current.version}`,
      { context: { file: keyFile } },
    );
  }
  if (assessment.previousUnknown) {
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `${keyFile} is not a root key of ${doc.source}; if it is one of the previous root's, pass --current <root.json> to check it`,
      { context: { file: keyFile, field: '--current' } },
    );
  }
  throw new PendulumError(
    'UNTRUSTED_KEY',
    `${keyFile} is not a root key of ${doc.source}${current === undefined ? '' : ` or of trust root v${current.version}`}`,
    { context: { file: keyFile } },
  );
}
