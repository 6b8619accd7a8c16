// The release bundle file: what goes in comes out byte for byte, and a file
// that is not exactly a bundle is refused with an error naming it.
import { appendFile, mkdir, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundle, readPart, writeBundle } from '../../src/bundle/bundle.js';
import { isPendulumError, PendulumError } from '../../src/errors.js';
import { type Signed, SignedSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import {
  ComponentKind,
  encodeManifest,
  generateKeyPair,
  sha256,
  signManifest,
  toHex,
} from '../../src/trust/index.js';
import { makeImage } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';

let dir: { path: string; remove: () => Promise<void> };
const key = generateKeyPair();
const rootfs = makeImage('bundle-rootfs', { bytes: 256 * 1024 + 17 });
const appfs = makeImage('bundle-app', { bytes: 64 * 1024 + 3 });

beforeAll(async () => {
  dir = await makeTempDir('bundle');
  await writeFile(join(dir.path, 'rootfs.img'), rootfs);
  await writeFile(join(dir.path, 'app.img'), appfs);
});
afterAll(async () => {
  await dir.remove();
});

// signedFor signs a manifest whose components are the given named images.
function signedFor(parts: readonly { name: string; bytes: Uint8Array }[]): Signed {
  return signManifest(
    encodeManifest({
      vendorId: 'acme',
      classId: 'acme-gateway',
      sequence: 7,
      version: '7.0.0',
      expiresAt: new Date(Date.now() + 86_400_000),
      components: parts.map((part) => ({
        name: part.name,
        kind: ComponentKind.ROOTFS,
        size: part.bytes.length,
        sha256: toHex(sha256(part.bytes)),
      })),
      bootAttempts: 3,
      confirmDeadlineMs: 60_000,
    }),
    [key],
  );
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

// aBundle writes a fresh one-component bundle and returns its path.
async function aBundle(name: string): Promise<string> {
  const path = join(dir.path, name);
  await writeBundle(path, signedFor([{ name: 'rootfs', bytes: rootfs }]), [
    join(dir.path, 'rootfs.img'),
  ]);
  return path;
}

async function openFailure(path: string): Promise<PendulumError> {
  const error = await openBundle(path).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PendulumError);
  return error as PendulumError;
}

describe('round trip', () => {
  it('gives back the exact signed envelope and every payload byte, in manifest order', async () => {
    const signed = signedFor([
      { name: 'rootfs', bytes: rootfs },
      { name: 'app', bytes: appfs },
    ]);
    const path = join(dir.path, 'two.pbundle');
    await writeBundle(path, signed, [join(dir.path, 'rootfs.img'), join(dir.path, 'app.img')]);

    const bundle = await openBundle(path);
    expect(Buffer.from(toBinary(SignedSchema, bundle.signed))).toEqual(
      Buffer.from(toBinary(SignedSchema, signed)),
    );
    expect(bundle.manifest.version).toBe('7.0.0');
    expect(bundle.parts.map((p) => [p.component, p.size])).toEqual([
      ['rootfs', rootfs.length],
      ['app', appfs.length],
    ]);
    const [first, second] = bundle.parts;
    if (first === undefined || second === undefined) throw new Error('two parts expected');
    expect((await readAll(readPart(bundle, first, 4096))).equals(rootfs)).toBe(true);
    expect((await readAll(readPart(bundle, second, 4096))).equals(appfs)).toBe(true);
  });

  it('leaves neither a bundle nor a temp file behind when a payload cannot be read', async () => {
    const out = join(dir.path, 'partial', 'never.pbundle');
    await mkdir(join(dir.path, 'partial'));
    const error = await writeBundle(out, signedFor([{ name: 'rootfs', bytes: rootfs }]), [
      join(dir.path, 'missing.img'),
    ]).catch((e: unknown) => e);
    expect(isPendulumError(error)).toBe(true);
    expect((error as PendulumError).message).toContain(out);
    expect(await readdir(join(dir.path, 'partial'))).toEqual([]);
  });
});

describe('refuses a file that is not exactly a bundle', () => {
  it('names the file when the payload is truncated', async () => {
    const path = await aBundle('truncated.pbundle');
    const { size } = await stat(path);
    await truncate(path, size - 1);
    const error = await openFailure(path);
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain(path);
    expect(error.context.file).toBe(path);
  });

  it('names the file when the manifest envelope is cut short', async () => {
    const path = await aBundle('short-envelope.pbundle');
    await truncate(path, 16 + 10);
    const error = await openFailure(path);
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain(path);
  });

  it('names the file when bytes follow the last payload', async () => {
    const path = await aBundle('trailing.pbundle');
    await appendFile(path, Buffer.from('garbage'));
    const error = await openFailure(path);
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain(path);
  });

  it('names the file when the magic is wrong', async () => {
    const path = await aBundle('magic.pbundle');
    const bytes = await readFile(path);
    bytes.write('NOTABNDL', 0);
    await writeFile(path, bytes);
    const error = await openFailure(path);
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain(path);
    expect(error.message).toContain('not a pendulum bundle');
  });

  it('names the file when it is shorter than a header', async () => {
    const path = join(dir.path, 'tiny.pbundle');
    await writeFile(path, 'PNDL');
    const error = await openFailure(path);
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain(path);
  });

  it('refuses a format version it does not know', async () => {
    const path = await aBundle('future.pbundle');
    const bytes = await readFile(path);
    bytes.writeUInt32BE(2, 8);
    await writeFile(path, bytes);
    const error = await openFailure(path);
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain('format 2');
  });

  it('refuses an envelope that does not decode', async () => {
    const path = await aBundle('garbled.pbundle');
    const bytes = await readFile(path);
    bytes.fill(0xff, 16, 32);
    await writeFile(path, bytes);
    const error = await openFailure(path);
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain(path);
  });

  it('says NOT_FOUND, naming the path, for a file that does not exist', async () => {
    const path = join(dir.path, 'absent.pbundle');
    const error = await openFailure(path);
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toContain(path);
  });
});
