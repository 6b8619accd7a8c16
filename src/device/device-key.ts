// The device's own Ed25519 key: made on first start, kept 0600 on the data partition.
import { readFile } from 'node:fs/promises';
import { errnoCode, PendulumError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import {
  formatSecretKeyFile,
  generateKeyPair,
  type KeyPair,
  parseSecretKeyFile,
} from '../trust/index.js';

// loadOrCreateDeviceKey reads the device key, creating it when missing.
export async function loadOrCreateDeviceKey(path: string): Promise<KeyPair> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') {
      throw new PendulumError('CONFIG_INVALID', `cannot read device key ${path}`, {
        context: { file: path },
        cause: error,
      });
    }
    const pair = generateKeyPair();
    await writeFileAtomic(path, formatSecretKeyFile(pair, 'device'), { mode: 0o600 });
    return pair;
  }
  return parseSecretKeyFile(text, path);
}
