// Ed25519 key pairs and their key-file format.
import nacl from 'tweetnacl';
import { PendulumError } from '../errors.js';
import { sha256, toHex } from './digest.js';

export interface KeyPair {
  readonly keyId: string;
  readonly publicKey: Uint8Array; // 32 bytes
  readonly secretKey: Uint8Array; // 64 bytes (tweetnacl layout: seed || public key)
}

export interface PublicKeyInfo {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly label: string;
}

const secretKeyType = 'pendulum-ed25519-secret-key';
const publicKeyType = 'pendulum-ed25519-public-key';

// keyIdOf is the hex SHA-256 of a raw public key.
export function keyIdOf(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey));
}

// generateKeyPair makes a fresh Ed25519 key pair from the OS random source.
export function generateKeyPair(): KeyPair {
  const pair = nacl.sign.keyPair();
  return { keyId: keyIdOf(pair.publicKey), publicKey: pair.publicKey, secretKey: pair.secretKey };
}

// formatSecretKeyFile renders a key pair as the JSON a secret key file holds.
export function formatSecretKeyFile(pair: KeyPair, label: string): string {
  return `${JSON.stringify(
    {
      type: secretKeyType,
      label,
      key_id: pair.keyId,
      public_key: Buffer.from(pair.publicKey).toString('base64'),
      secret_key: Buffer.from(pair.secretKey).toString('base64'),
    },
    null,
    2,
  )}\n`;
}

// formatPublicKeyFile renders the public half as the JSON a public key file holds.
export function formatPublicKeyFile(key: PublicKeyInfo): string {
  return `${JSON.stringify(
    {
      type: publicKeyType,
      label: key.label,
      key_id: key.keyId,
      public_key: Buffer.from(key.publicKey).toString('base64'),
    },
    null,
    2,
  )}\n`;
}

// parseSecretKeyFile reads a secret key file; `source` names it in errors.
export function parseSecretKeyFile(text: string, source: string): KeyPair & { label: string } {
  const doc = parseKeyJson(text, source, secretKeyType);
  const publicKey = base64Field(doc, 'public_key', 32, source);
  const secretKey = base64Field(doc, 'secret_key', 64, source);
  // Derive from the seed: fromSecretKey only copies the last 32 bytes back.
  const derived = nacl.sign.keyPair.fromSeed(secretKey.subarray(0, 32));
  if (Buffer.compare(Buffer.from(derived.publicKey), Buffer.from(publicKey)) !== 0) {
    throw new PendulumError('MALFORMED', `${source}: public_key does not belong to secret_key`, {
      context: { file: source, field: 'public_key' },
    });
  }
  if (Buffer.compare(Buffer.from(derived.secretKey), Buffer.from(secretKey)) !== 0) {
    throw new PendulumError(
      'MALFORMED',
      `${source}: secret_key does not end with its own public key`,
      {
        context: { file: source, field: 'secret_key' },
      },
    );
  }
  return { keyId: keyIdOf(publicKey), publicKey, secretKey, label: stringField(doc, 'label') };
}

// parsePublicKeyFile reads a public key file, or the public half of a secret key file.
export function parsePublicKeyFile(text: string, source: string): PublicKeyInfo {
  const doc = parseKeyJson(text, source, undefined);
  if (doc.type !== publicKeyType && doc.type !== secretKeyType) {
    throw new PendulumError(
      'MALFORMED',
      `${source}: not a pendulum key file (type ${JSON.stringify(doc.type)})`,
      {
        context: { file: source, field: 'type' },
      },
    );
  }
  const publicKey = base64Field(doc, 'public_key', 32, source);
  return { keyId: keyIdOf(publicKey), publicKey, label: stringField(doc, 'label') };
}

function parseKeyJson(
  text: string,
  source: string,
  type: string | undefined,
): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new PendulumError('MALFORMED', `${source}: not JSON`, {
      context: { file: source },
      cause: error,
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new PendulumError('MALFORMED', `${source}: not a key file object`, {
      context: { file: source },
    });
  }
  const record = doc as Record<string, unknown>;
  if (type !== undefined && record.type !== type) {
    throw new PendulumError('MALFORMED', `${source}: field "type" must be "${type}"`, {
      context: { file: source, field: 'type' },
    });
  }
  return record;
}

function base64Field(
  doc: Record<string, unknown>,
  field: string,
  length: number,
  source: string,
): Uint8Array {
  const value = doc[field];
  const bytes =
    typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'base64')) : undefined;
  if (bytes === undefined || bytes.length !== length) {
    throw new PendulumError(
      'MALFORMED',
      `${source}: field "${field}" must be ${length} bytes of base64`,
      {
        context: { file: source, field },
      },
    );
  }
  return bytes;
}

function stringField(doc: Record<string, unknown>, field: string): string {
  const value = doc[field];
  return typeof value === 'string' ? value : '';
}
