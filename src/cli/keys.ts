// pendulum keygen: Ed25519 key pairs for root, release and device keys.
import { access, mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Command } from 'commander';
import { PendulumError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { formatPublicKeyFile, formatSecretKeyFile, generateKeyPair } from '../trust/index.js';
import { print } from './common.js';

// registerKeys adds `keygen`.
export function registerKeys(program: Command): void {
  program
    .command('keygen')
    .description('make an Ed25519 key pair: <out>.key (secret, mode 0600) and <out>.pub')
    .requiredOption('--out <path>', 'path prefix of the two files, e.g. keys/release-1')
    .option('--label <text>', 'a name people see in trust roots (default: the file name)')
    .option('--force', 'overwrite existing files', false)
    .action(async (options: { out: string; label?: string; force: boolean }) => {
      const secretPath = `${options.out}.key`;
      const publicPath = `${options.out}.pub`;
      if (!options.force) {
        for (const path of [secretPath, publicPath]) {
          if (await exists(path))
            throw new PendulumError(
              'ALREADY_EXISTS',
              `${path} exists; pass --force to overwrite it`,
              { context: { file: path } },
            );
        }
      }
      await mkdir(dirname(secretPath), { recursive: true });
      const pair = generateKeyPair();
      const label = options.label ?? basename(options.out);
      await writeFileAtomic(secretPath, formatSecretKeyFile(pair, label), { mode: 0o600 });
      await writeFileAtomic(
        publicPath,
        formatPublicKeyFile({ keyId: pair.keyId, publicKey: pair.publicKey, label }),
      );
      print(`key ${pair.keyId}`);
      print(`  secret: ${secretPath} (keep it offline)`);
      print(`  public: ${publicPath}`);
    });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
