// The server's online timestamp key (TUF's timestamp role): it signs the
// Freshness statement of every check-in and nothing else. Loaded from
// `timestamp_key`, or made on the first start as <data_dir>/timestamp.key
// with its public half beside it, for the manufacturer to list in the trust
// root (`pendulum trust init --timestamp-key`).
import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { errnoCode, PendulumError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { SignatureSchema, type Signed } from '../gen/pendulum/v1/manifest_pb.js';
import {
  createSigned,
  encodeFreshness,
  type FreshnessClaim,
  formatPublicKeyFile,
  formatSecretKeyFile,
  freshnessType,
  generateKeyPair,
  type KeyPair,
  type PublicKeyInfo,
  parseSecretKeyFile,
  preAuthEncoding,
  type TrustRootContent,
} from '../trust/index.js';

export interface TimestampSigner {
  readonly key: PublicKeyInfo;
  // Where the secret key is, and whether this start made it.
  readonly file: string;
  readonly created: boolean;
  // Its public half, beside it (as made on a first start, or by keygen).
  readonly publicFile: string;
  // listedIn tells whether a trust root names this key as a timestamp key.
  listedIn(root: TrustRootContent): boolean;
  // sign makes the signed statement for one check-in reply.
  sign(claim: FreshnessClaim): Signed;
}

// loadTimestampSigner reads the configured key file; without one, it uses
// (and on the first start makes) the key in the data directory. A configured
// file that is missing is an error: replicas must share one key, never each
// make their own.
export async function loadTimestampSigner(
  configured: string | undefined,
  dataDir: string,
): Promise<TimestampSigner> {
  const file = configured ?? join(dataDir, 'timestamp.key');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (configured !== undefined || errnoCode(error) !== 'ENOENT') {
      throw new PendulumError(
        'CONFIG_INVALID',
        `cannot read the timestamp key ${file}: ${errnoCode(error) ?? 'error'}`,
        { context: { field: 'timestamp_key', file }, cause: error },
      );
    }
  }
  if (text !== undefined) return signerFor(parseSecretKeyFile(text, file), file, false);
  const pair = generateKeyPair();
  await writeFileAtomic(file, formatSecretKeyFile(pair, 'timestamp'), { mode: 0o600 });
  await writeFileAtomic(
    publicFileOf(file),
    formatPublicKeyFile({ keyId: pair.keyId, publicKey: pair.publicKey, label: 'timestamp' }),
  );
  return signerFor({ ...pair, label: 'timestamp' }, file, true);
}

function signerFor(
  pair: KeyPair & { label: string },
  file: string,
  created: boolean,
): TimestampSigner {
  // OpenSSL's Ed25519 signs in tens of microseconds; every check-in pays for one.
  const privateKey: KeyObject = createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(pair.secretKey.subarray(0, 32)).toString('base64url'),
      x: Buffer.from(pair.publicKey).toString('base64url'),
    },
  });
  return {
    key: { keyId: pair.keyId, publicKey: pair.publicKey, label: pair.label },
    file,
    created,
    publicFile: publicFileOf(file),
    listedIn: (root) => root.timestampKeys.some((key) => key.keyId === pair.keyId),
    sign(claim) {
      const body = encodeFreshness(claim);
      const sig = sign(null, preAuthEncoding(freshnessType, body), privateKey);
      return createSigned(body, [create(SignatureSchema, { keyId: pair.keyId, sig })]);
    },
  };
}

// publicFileOf is where a key file's public half is: x.key → x.pub.
function publicFileOf(file: string): string {
  return `${file.replace(/\.key$/, '')}.pub`;
}
