// pendulum release: build a signed bundle, publish it, list what is published.
import type { Command } from 'commander';
import { openBundle, writeBundle } from '../bundle/bundle.js';
import { PendulumError } from '../errors.js';
import { PublisherService } from '../gen/pendulum/v1/publisher_pb.js';
import {
  ComponentKind,
  encodeManifest,
  floorOnCommit,
  parseSecretKeyFile,
  parseSignedFile,
  signManifest,
  updateTrustRoot,
  verifyManifest,
  verifyPinnedTrustRoot,
} from '../trust/index.js';
import {
  type ConnectionOptions,
  collect,
  connect,
  nonNegativeInt,
  positiveInt,
  print,
  readText,
  withConnection,
} from './common.js';
import { fileDigest } from './file-digest.js';
import { durationOption, expiryFrom } from './time-options.js';
import { uploadBundle } from './upload.js';

interface CreateOptions {
  image: string;
  trustRoot: string;
  class: string;
  version: string;
  sequence: number;
  key: string[];
  expires: string;
  bootAttempts: number;
  confirmDeadline: number;
  irreversible: boolean;
  rollbackFloor: number;
  component: string;
  notes: string;
  out: string;
}

// registerRelease adds `release create|publish|list`.
export function registerRelease(program: Command): void {
  const release = program
    .command('release')
    .description('releases: signed manifests with their payloads');

  release
    .command('create')
    .description('build a release bundle for a root filesystem image, signed with release keys')
    .requiredOption('--image <file>', 'the image to install into the inactive slot')
    .requiredOption('--trust-root <file>', 'the trust root the release keys are in (root.json)')
    .requiredOption('--class <id>', 'device class (model) the release is for')
    .requiredOption('--version <text>', 'human version, e.g. 1.2.0')
    .requiredOption(
      '--sequence <n>',
      'strictly increasing number per class (anti-rollback)',
      positiveInt('--sequence'),
    )
    .requiredOption(
      '--key <file.key>',
      'release secret key (repeat to meet the threshold)',
      collect,
    )
    .option(
      '--expires <when>',
      'manifest expiry: a duration from now ("90d") or an ISO date',
      '90d',
    )
    .option(
      '--boot-attempts <n>',
      'boots of the new slot before the bootloader falls back',
      positiveInt('--boot-attempts'),
      3,
    )
    .option(
      '--confirm-deadline <duration>',
      'time for health checks to pass on the trial boot',
      durationOption('--confirm-deadline'),
      5 * 60_000,
    )
    .option(
      '--irreversible',
      'devices that commit this release never install a lower sequence again (raises their anti-rollback floor to --sequence)',
      false,
    )
    .option(
      '--rollback-floor <n>',
      'devices that commit this release refuse any sequence below n from then on (at most --sequence)',
      nonNegativeInt('--rollback-floor'),
      0,
    )
    .option('--component <name>', 'component name', 'rootfs')
    .option('--notes <text>', 'release notes', '')
    .requiredOption('--out <file>', 'bundle to write, e.g. release-1.2.0.pbundle')
    .action(async (options: CreateOptions) => {
      if (options.rollbackFloor > options.sequence)
        throw new PendulumError(
          'INVALID_ARGUMENT',
          `--rollback-floor ${options.rollbackFloor} is above --sequence ${options.sequence}: a release cannot refuse itself`,
        );
      const root = updateTrustRoot(
        verifyPinnedTrustRoot(
          parseSignedFile(await readText(options.trustRoot), options.trustRoot),
        ),
        [],
        new Date(),
      );
      const keys = await Promise.all(
        options.key.map(async (path) => parseSecretKeyFile(await readText(path), path)),
      );
      for (const [index, key] of keys.entries()) {
        if (!root.releaseKeys.some((k) => k.keyId === key.keyId)) {
          throw new PendulumError(
            'UNTRUSTED_KEY',
            `${options.key[index]} is not a release key of trust root v${root.version}`,
            { context: { file: options.key[index] } },
          );
        }
      }
      const image = await fileDigest(options.image);
      const body = encodeManifest({
        vendorId: root.vendorId,
        classId: options.class,
        sequence: options.sequence,
        version: options.version,
        expiresAt: expiryFrom(options.expires, '--expires'),
        components: [
          {
            name: options.component,
            kind: ComponentKind.ROOTFS,
            size: image.size,
            sha256: image.sha256,
          },
        ],
        bootAttempts: options.bootAttempts,
        confirmDeadlineMs: options.confirmDeadline,
        irreversible: options.irreversible,
        rollbackFloor: options.rollbackFloor,
        text: options.notes,
      });
      const signed = signManifest(body, keys);
      // Check here what a device will check, so a bad release never leaves this host.
      const manifest = verifyManifest(signed, root, {
        now: new Date(),
        classId: null,
        aboveSequence: null,
        floor: null,
        maxComponentBytes: Number.MAX_SAFE_INTEGER,
      });
      await writeBundle(options.out, signed, [options.image]);
      print(`wrote ${options.out}`);
      print(`  release ${manifest.id}`);
      print(
        `  ${manifest.classId} ${manifest.version} (sequence ${manifest.sequence}), ${image.size} bytes, sha256 ${image.sha256}`,
      );
      const floor = floorOnCommit(manifest);
      if (floor > 0)
        print(
          `  ${manifest.irreversible ? 'irreversible: ' : ''}devices that commit it refuse any sequence below ${floor}`,
        );
      print(
        `  signed by ${manifest.signers.length} of ${root.releaseThreshold} required release keys; expires ${manifest.expiresAt.toISOString()}`,
      );
    });

  withConnection(
    release
      .command('publish <bundle>')
      .description("upload a bundle's payloads and publish its signed manifest"),
  ).action(async (path: string, options: ConnectionOptions) => {
    const bundle = await openBundle(path);
    const { client, close } = await connect(PublisherService, options);
    try {
      await uploadBundle(client, bundle);
      const { release: published } = await client.publishRelease({ manifest: bundle.signed });
      if (published === undefined)
        throw new PendulumError('INTERNAL', 'server returned no release');
      print(`published ${published.classId} ${published.version} (sequence ${published.sequence})`);
      print(`  release ${published.id}`);
    } finally {
      close();
    }
  });

  withConnection(release.command('list').description('list published releases, newest first'))
    .option('--class <id>', 'only this device class', '')
    .action(async (options: ConnectionOptions & { class: string }) => {
      const { client, close } = await connect(PublisherService, options);
      try {
        const { releases } = await client.listReleases({ classId: options.class });
        if (releases.length === 0) print('no releases');
        for (const r of releases)
          print(
            `${r.id.slice(0, 16)}  ${r.classId}  ${r.version}  sequence ${r.sequence}  ${r.size} bytes`,
          );
      } finally {
        close();
      }
    });
}
