// pendulum trust rotate: write the next trust root version, unsigned, for the
// root key holders to sign (`trust sign`) wherever their keys are kept.
import { access } from 'node:fs/promises';
import type { Command } from 'commander';
import { PendulumError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import {
  checkUnexpired,
  createSigned,
  encodeTrustRoot,
  formatSignedFile,
  type KeyListChange,
  nextTrustRoot,
  type PublicKeyInfo,
  parsePublicKeyFile,
} from '../trust/index.js';
import { collect, positiveInt, print, readText } from './common.js';
import { expiryFrom } from './time-options.js';
import { assess, readCurrentRoot } from './trust-report.js';

interface RotateOptions {
  current: string;
  addRootKey: string[];
  removeRootKey: string[];
  rootThreshold?: number;
  addReleaseKey: string[];
  removeReleaseKey: string[];
  releaseThreshold?: number;
  addTimestampKey: string[];
  removeTimestampKey: string[];
  timestampThreshold?: number;
  expires: string;
  out: string;
}

// registerTrustRotate adds `trust rotate` to the trust command.
export function registerTrustRotate(trust: Command): void {
  trust
    .command('rotate')
    .description(
      'write the next trust root version (N+1), unsigned: keys added or removed, thresholds, expiry',
    )
    .requiredOption('--current <root.json>', 'the trust root devices hold now (version N)')
    .option('--add-root-key <file.pub>', 'a root key to add (repeat for several)', collect, [])
    .option(
      '--remove-root-key <keyid|file.pub>',
      'a root key to remove: its key file, key id or a unique key id prefix (repeat)',
      collect,
      [],
    )
    .option(
      '--root-threshold <n>',
      'root signatures the new root needs (default: unchanged)',
      positiveInt('--root-threshold'),
    )
    .option('--add-release-key <file.pub>', 'a release key to add (repeat)', collect, [])
    .option(
      '--remove-release-key <keyid|file.pub>',
      'a release key to remove, which revokes what it signed alone (repeat)',
      collect,
      [],
    )
    .option(
      '--release-threshold <n>',
      'release signatures a manifest needs (default: unchanged)',
      positiveInt('--release-threshold'),
    )
    .option(
      '--add-timestamp-key <file.pub>',
      "a timestamp key to add: the server's online key (repeat)",
      collect,
      [],
    )
    .option(
      '--remove-timestamp-key <keyid|file.pub>',
      'a timestamp key to remove, e.g. after a server compromise (repeat)',
      collect,
      [],
    )
    .option(
      '--timestamp-threshold <n>',
      'timestamp signatures a check-in reply needs (default: unchanged)',
      positiveInt('--timestamp-threshold'),
    )
    .option('--expires <when>', 'expiry: a duration from now ("365d") or an ISO date', '365d')
    .requiredOption('--out <file>', 'where to write version N+1, e.g. root-v2.json')
    .action(async (options: RotateOptions) => {
      const current = await readCurrentRoot(options.current);
      const change = async (
        role: 'root' | 'release' | 'timestamp',
        add: string[],
        remove: string[],
        threshold: number | undefined,
      ): Promise<KeyListChange> => {
        const keys = {
          root: current.rootKeys,
          release: current.releaseKeys,
          timestamp: current.timestampKeys,
        }[role];
        return {
          add: await Promise.all(
            add.map(async (path) => parsePublicKeyFile(await readText(path), path)),
          ),
          remove: await Promise.all(
            remove.map((ref) => keyIdOf(ref, keys, `--remove-${role}-key`)),
          ),
          ...(threshold === undefined ? {} : { threshold }),
        };
      };
      const now = new Date();
      const spec = nextTrustRoot(current, {
        root: await change(
          'root',
          options.addRootKey,
          options.removeRootKey,
          options.rootThreshold,
        ),
        release: await change(
          'release',
          options.addReleaseKey,
          options.removeReleaseKey,
          options.releaseThreshold,
        ),
        timestamp: await change(
          'timestamp',
          options.addTimestampKey,
          options.removeTimestampKey,
          options.timestampThreshold,
        ),
        expiresAt: expiryFrom(options.expires, '--expires', now),
      });
      // An expired root is never worth signing: refuse before writing.
      checkUnexpired(spec, now);
      const draft = createSigned(encodeTrustRoot(spec), []);
      await writeFileAtomic(options.out, formatSignedFile(draft));
      print(`wrote ${options.out}: trust root v${spec.version}, not signed yet`);
      for (const line of assess(
        { source: options.out, type: 'pendulum.v1.TrustRoot', signed: draft },
        current,
        now,
      ).lines)
        print(line);
      print(
        `each root key holder signs it: pendulum trust sign --key <root key> --current ${options.current} ${options.out}`,
      );
    });
}

// keyIdOf resolves a key to remove, given as a key file, a key id or a unique
// prefix of one (at least 8 hex digits), against the keys of its role.
async function keyIdOf(
  ref: string,
  keys: readonly PublicKeyInfo[],
  option: string,
): Promise<string> {
  if (await isFile(ref)) return parsePublicKeyFile(await readText(ref), ref).keyId;
  const prefix = ref.toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(prefix)) {
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `${option} ${ref}: neither a key file nor a key id (8 to 64 hex digits)`,
      { context: { field: option } },
    );
  }
  const matches = keys.filter((key) => key.keyId.startsWith(prefix));
  if (matches.length > 1) {
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `${option} ${ref}: matches ${matches.length} keys; give more of the key id`,
      { context: { field: option } },
    );
  }
  // No match: the rotation itself says the current root does not list it.
  return matches[0]?.keyId ?? prefix;
}

async function isFile(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
