// pendulum trust: make, rotate, sign, inspect and install trust roots.
import type { Command } from 'commander';
import { PendulumError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { PublisherService } from '../gen/pendulum/v1/publisher_pb.js';
import {
  checkUnexpired,
  encodeTrustRoot,
  formatSignedFile,
  parsePublicKeyFile,
  parseSecretKeyFile,
  signTrustRoot,
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
import { checkAsDevice, registerTrustCosign } from './trust-cosign.js';
import { describeRoot, readCurrentRoot, readDocument } from './trust-report.js';
import { registerTrustRotate } from './trust-rotate.js';

interface InitOptions {
  vendor: string;
  rootKey: string[];
  rootThreshold: number;
  releaseKey: string[];
  releaseThreshold: number;
  timestampKey: string[];
  timestampThreshold: number;
  expires: string;
  out: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

// registerTrust adds `trust init|rotate|sign|merge|verify|show|push`.
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
    .requiredOption(
      '--timestamp-key <file.pub>',
      "timestamp public key: the server's online key that signs check-in freshness (repeat for several)",
      collect,
    )
    .option(
      '--timestamp-threshold <n>',
      'timestamp signatures needed on a check-in reply',
      positiveInt('--timestamp-threshold'),
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
      requireDistinct('--root-key', options.rootKey, rootPairs);
      const timestampKeys = await Promise.all(
        options.timestampKey.map(async (path) => parsePublicKeyFile(await readText(path), path)),
      );
      requireDistinct('--release-key', options.releaseKey, releaseKeys);
      requireDistinct('--timestamp-key', options.timestampKey, timestampKeys);
      for (const [option, threshold, count] of [
        ['--root-threshold', options.rootThreshold, rootPairs.length],
        ['--release-threshold', options.releaseThreshold, releaseKeys.length],
        ['--timestamp-threshold', options.timestampThreshold, timestampKeys.length],
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
        timestampKeys,
        timestampThreshold: options.timestampThreshold,
      });
      const signed = signTrustRoot(body, rootPairs);
      // Refuse before writing: an expired root must not be left behind for someone to push.
      const root = verifyPinnedTrustRoot(signed);
      checkUnexpired(root, new Date());
      await writeFileAtomic(options.out, formatSignedFile(signed));
      print(`wrote ${options.out}`);
      for (const line of describeRoot(root)) print(line);
    });

  registerTrustRotate(trust);
  registerTrustCosign(trust);

  trust
    .command('show <file>')
    .description('check a trust root is self-consistent and print it')
    .action(async (file: string) => {
      const root = await readCurrentRoot(file);
      checkUnexpired(root, new Date());
      for (const line of describeRoot(root)) print(line);
    });

  withConnection(
    trust
      .command('push <file>')
      .description(
        'install a trust root on the server (admin token); it is first checked here as a device would check it',
      )
      .option(
        '--current <root.json>',
        'the trust root the server holds now; needed for a root above v1, which must follow it',
      ),
  ).action(async (file: string, options: ConnectionOptions & { current?: string }) => {
    const doc = await readDocument(file);
    if (doc.type !== 'pendulum.v1.TrustRoot') {
      throw new PendulumError('INVALID_ARGUMENT', `${file} is a manifest, not a trust root`, {
        context: { file },
      });
    }
    // Refuse here, before anything is sent, what the server and devices would refuse.
    const lines: string[] = [];
    const current =
      options.current === undefined ? undefined : await readCurrentRoot(options.current);
    const verdict = checkAsDevice(doc, current, (line) => lines.push(line));
    if (verdict.refusal !== undefined) {
      for (const line of lines) print(line);
      throw verdict.refusal.withPrefix(`not sent: ${verdict.subject} would refuse ${file}`);
    }
    const { client, close } = await connect(PublisherService, options);
    try {
      const response = await client.putTrustRoot({ trustRoot: doc.signed });
      print(`server trusts root v${response.version}`);
    } finally {
      close();
    }
  });
}

// requireDistinct refuses one key given twice under one option (the root it
// would make lists a key twice, which every verifier refuses).
function requireDistinct(
  option: string,
  paths: readonly string[],
  keys: readonly { keyId: string }[],
): void {
  const seen = new Map<string, string>();
  for (const [index, key] of keys.entries()) {
    const path = paths[index] ?? option;
    const earlier = seen.get(key.keyId);
    if (earlier !== undefined) {
      throw new PendulumError(
        'INVALID_ARGUMENT',
        `${option} ${path} is the same key as ${earlier} (${key.keyId.slice(0, 16)})`,
        { context: { field: option, file: path } },
      );
    }
    seen.set(key.keyId, path);
  }
}
