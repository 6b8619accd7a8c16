// Parsing what people hand the CLI and the agent as text: signed-document
// files, key files and hex.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/trust/digest.js';
import {
  formatPublicKeyFile,
  formatSecretKeyFile,
  parsePublicKeyFile,
  parseSecretKeyFile,
} from '../../src/trust/keys.js';
import { formatSignedFile, parseSignedFile } from '../../src/trust/signed-file.js';
import { corpus, publicInfo } from '../corpus.js';
import { fuzzKey } from '../ed25519.js';
import { defineFamily } from '../family.js';
import { mutatedText } from '../mutate.js';
import { keyIdHex } from '../oracle.js';
import { accepted, attempt, falseAcceptance, violation } from '../outcome.js';

// Arbitrary text, JSON of any shape, or a damaged valid file.
function textLike(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 6, arbitrary: mutatedText(seeds) },
  );
}

export const signedFileParse = defineFamily({
  name: 'signed-file-parse',
  defends: 'parseSignedFile refuses anything but a signed-document JSON with MALFORMED',
  share: 120,
  testRuns: 2000,
  arbitrary: () => {
    const { manifestSeeds, rootSeeds } = corpus();
    const files = [...manifestSeeds, ...rootSeeds].map((s) => formatSignedFile(s.signed));
    // Fields with the wrong JSON type, the protobuf JSON names and unknown ones.
    const shapes = fc.record(
      {
        body: fc.oneof(fc.base64String({ maxLength: 40 }), fc.jsonValue()),
        signatures: fc.oneof(
          fc.array(
            fc.record({ keyId: fc.oneof(fc.string(), fc.jsonValue()), sig: fc.jsonValue() }),
            { maxLength: 3 },
          ),
          fc.jsonValue(),
        ),
        key_id: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    return fc.oneof(
      textLike(files),
      shapes.map((value) => JSON.stringify(value)),
    );
  },
  check: (text) =>
    attempt(
      () => parseSignedFile(text, 'fuzzed.json'),
      ['MALFORMED'],
      (signed) => (signed.body.length > 0 ? accepted() : falseAcceptance('an empty body')),
    ),
});

export const keyFileParse = defineFamily({
  name: 'key-file-parse',
  defends:
    'key-file parsers refuse malformed files with MALFORMED and never return a mismatched key',
  share: 50,
  testRuns: 800,
  arbitrary: () => {
    const key = fuzzKey('key-file');
    const files = [
      formatSecretKeyFile(key, 'release-2030'),
      formatPublicKeyFile(publicInfo(key, 'release-2030')),
    ];
    return fc.record({ text: textLike(files), secret: fc.boolean() });
  },
  check: ({ text, secret }) => {
    if (!secret) {
      return attempt(
        () => parsePublicKeyFile(text, 'fuzzed.pub'),
        ['MALFORMED'],
        (key) =>
          key.publicKey.length === 32 && key.keyId === keyIdHex(key.publicKey)
            ? accepted()
            : falseAcceptance('a public key of the wrong size or id'),
      );
    }
    return attempt(
      () => parseSecretKeyFile(text, 'fuzzed.key'),
      ['MALFORMED'],
      (pair) =>
        publicKeyOfSeed(pair.secretKey.subarray(0, 32)) ===
          Buffer.from(pair.publicKey).toString('hex') &&
        pair.secretKey.length === 64 &&
        pair.keyId === keyIdHex(pair.publicKey)
          ? accepted()
          : falseAcceptance('a secret key whose public half is not its own'),
    );
  },
});

// The public key of an Ed25519 seed, by node:crypto (independent of tweetnacl).
function publicKeyOfSeed(seed: Uint8Array): string {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({
    format: 'jwk',
  });
  return Buffer.from(jwk.x ?? '', 'base64url').toString('hex');
}

export const hexParse = defineFamily({
  name: 'hex-parse',
  defends: 'fromHex accepts exactly even-length hex of the expected size, else MALFORMED',
  share: 60,
  testRuns: 2000,
  arbitrary: () =>
    fc.record({
      text: fc.oneof(
        fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), maxLength: 70 }),
        fc.string({ unit: fc.constantFrom(...'0123456789abcdefgxX -\n\u0660'), maxLength: 70 }),
        fc.string({ unit: 'binary', maxLength: 70 }),
      ),
      expected: fc.option(fc.constantFrom(0, 1, 16, 32, 33), { nil: undefined }),
    }),
  check: ({ text, expected }) => {
    const outcome = attempt(
      () => fromHex(text, 'fuzzed hex', expected),
      ['MALFORMED'],
      (bytes) => {
        if (toHex(bytes) !== text.toLowerCase())
          return falseAcceptance(`"${text}" decoded to ${toHex(bytes)}`);
        if (expected !== undefined && bytes.length !== expected)
          return falseAcceptance(`${bytes.length} bytes where ${expected} were expected`);
        return accepted();
      },
    );
    const wellFormed =
      /^(?:[0-9a-fA-F]{2})*$/.test(text) &&
      (expected === undefined || text.length === 2 * expected);
    if (outcome.verdict === 'refused' && wellFormed) return violation(`refused "${text}"`);
    return outcome;
  },
});
