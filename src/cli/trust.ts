// pendulum trust: make, inspect and install trust roots.
import type { Command } from 'commander';
import { PendulumError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { PublisherService } from '../gen/pendulum/v1/publisher_pb.js';
import {
  encodeTrustRoot,
  formatSignedFile,
  parsePublicKeyFile,
  parseSecretKeyFile,
  parseSignedFile,
  signTrustRoot,
  type VerifiedTrustRoot,
  verifyPinnedTrustRoot,
} from '../trust/index.js';
import {
  type ConnectionOptions,
  connect,
  positiveInt,
  print,
  readText,
  withConnection,
} from './common.js';
import { expiryFrom } from './time-options.js';

interface InitOptions {
  vendor: string;
  rootKey: string[];
  rootThreshold: number;
  releaseKey: string[];
  releaseThreshold: number;
  expires: string;
  out: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

// registerTrust adds `trust init|show|push`.
export function registerTrust(program: Command): void {
  const trust = program
    .command('trust')
    .description('trust roots: which keys may sign what (TUF-style)');

  trust
    .command('init')
    .description('make a signed trust root (version 1)')
    .requiredOption('--vendor <id>', 'vendor id that every manifest must carry')
    .requiredOption(
      '--root-key <file.key>',
      'root secret key (repeat for several); they sign the root',
      collect,
    )
    .option('--root-threshold <n>', 'root signatures needed', positiveInt('--root-threshold'), 1)
    .requiredOption('--release-key <file.pub>', 'release public key (repeat for several)', collect)
    .option(
      '--release-threshold <n>',
      'release signatures needed on a manifest',
      positiveInt('--release-threshold'),
      1,
    )
    .option('--expires <when>', 'expiry: a duration from now ("365d") or an ISO date', '365d')
    .requiredOption('--out <file>', 'where to write the root, e.g. root.json')
    .action(async (options: InitOptions) => {
      const rootPairs = await Promise.all(
        options.rootKey.map(async (path) => parseSecretKeyFile(await readText(path), path)),
      );
      const releaseKeys = await Promise.all(
        options.releaseKey.map(async (path) => parsePublicKeyFile(await readText(path), path)),
      );
      for (const [option, threshold, count] of [
        ['--root-threshold', options.rootThreshold, rootPairs.length],
        ['--release-threshold', options.releaseThreshold, releaseKeys.length],
      ] as const) {
        if (threshold > count) {
          throw new PendulumError(
            'INVALID_ARGUMENT',
            `${option} is ${threshold} but only ${count} key(s) were given`,
            {
              context: { field: option },
            },
          );
        }
      }
      const body = encodeTrustRoot({
        version: 1,
        expiresAt: expiryFrom(options.expires, '--expires'),
        vendorId: options.vendor,
        rootKeys: rootPairs.map((k) => ({
          keyId: k.keyId,
          publicKey: k.publicKey,
          label: k.label,
        })),
        rootThreshold: options.rootThreshold,
        releaseKeys,
        releaseThreshold: options.releaseThreshold,
      });
      const signed = signTrustRoot(body, rootPairs);
      // Refuse before writing: an expired root must not be left behind for someone to push.
      const root = requireUnexpired(verifyPinnedTrustRoot(signed));
      await writeFileAtomic(options.out, formatSignedFile(signed));
      print(`wrote ${options.out}`);
      describeRoot(root);
    });

  trust
    .command('show <file>')
    .description('check a trust root is self-consistent and print it')
    .action(async (file: string) => {
      describeRoot(
        requireUnexpired(verifyPinnedTrustRoot(parseSignedFile(await readText(file), file))),
      );
    });

  withConnection(
    trust
      .command('push <file>')
      .description(
        'install a trust root on the server (admin token; new versions must be signed by the current root)',
      ),
  ).action(async (file: string, options: ConnectionOptions) => {
    const signed = parseSignedFile(await readText(file), file);
    const { client, close } = await connect(PublisherService, options);
    try {
      const response = await client.putTrustRoot({ trustRoot: signed });
      print(`server trusts root v${response.version}`);
    } finally {
      close();
    }
  });
}

// requireUnexpired returns a root that has not expired yet, or throws EXPIRED.
function requireUnexpired(root: VerifiedTrustRoot): VerifiedTrustRoot {
  if (root.expiresAt.getTime() <= Date.now()) {
    throw new PendulumError(
      'EXPIRED',
      `trust root v${root.version} expired at ${root.expiresAt.toISOString()}`,
    );
  }
  return root;
}

function describeRoot(root: VerifiedTrustRoot): void {
  print(
    `trust root v${root.version} for vendor "${root.vendorId}", expires ${root.expiresAt.toISOString()}`,
  );
  print(`  root keys (${root.rootThreshold} of ${root.rootKeys.length}):`);
  for (const key of root.rootKeys) print(`    ${key.keyId}  ${key.label}`);
  print(`  release keys (${root.releaseThreshold} of ${root.releaseKeys.length}):`);
  for (const key of root.releaseKeys) print(`    ${key.keyId}  ${key.label}`);
}
