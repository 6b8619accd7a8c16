// The release bundle: one file with the signed manifest and the payload of
// each component, so a release can be copied, archived or carried on a USB
// stick as one thing. Layout (all integers big-endian):
//   "PNDLBNDL" | u32 format (1) | u32 envelope length | envelope | payloads in manifest order
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { PendulumError } from '../errors.js';
import { fsyncDirectory, storageError, tempPathFor } from '../fs/atomic-write.js';
import {
  type Manifest,
  ManifestSchema,
  type Signed,
  SignedSchema,
} from '../gen/pendulum/v1/manifest_pb.js';
import { maxManifestBytes } from '../trust/index.js';

const magic = Buffer.from('PNDLBNDL');
const headerBytes = magic.length + 8;
const formatVersion = 1;

export interface BundlePart {
  readonly component: string;
  readonly offset: number;
  readonly size: number;
}

export interface OpenedBundle {
  readonly path: string;
  readonly signed: Signed;
  // Decoded but NOT verified: for sizes and display only.
  readonly manifest: Manifest;
  readonly parts: readonly BundlePart[];
}

// writeBundle writes a bundle atomically from a signed manifest and one file per component.
export async function writeBundle(
  path: string,
  signed: Signed,
  payloadFiles: readonly string[],
): Promise<void> {
  const envelope = toBinary(SignedSchema, signed);
  const header = Buffer.alloc(headerBytes);
  magic.copy(header, 0);
  header.writeUInt32BE(formatVersion, magic.length);
  header.writeUInt32BE(envelope.length, magic.length + 4);
  const temp = tempPathFor(path);
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.write(header);
      await handle.write(envelope);
      for (const file of payloadFiles) {
        await pipeline(
          createReadStream(file),
          createWriteStream('', { fd: handle.fd, autoClose: false, emitClose: false }),
        );
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await fsyncDirectory(dirname(path));
  } catch (error) {
    await rm(temp, { force: true });
    throw storageError(error, `cannot write bundle ${path}`);
  }
}

// openBundle reads a bundle's header and manifest; `path` is named in errors.
export async function openBundle(path: string): Promise<OpenedBundle> {
  const bad = (problem: string, cause?: unknown) =>
    new PendulumError('MALFORMED', `${path}: ${problem}`, { context: { file: path }, cause });
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new PendulumError('NOT_FOUND', `cannot open bundle ${path}`, {
      context: { file: path },
      cause: error,
    });
  }
  try {
    const header = Buffer.alloc(headerBytes);
    const { bytesRead } = await handle.read(header, 0, headerBytes, 0);
    if (bytesRead < headerBytes || !header.subarray(0, magic.length).equals(magic))
      throw bad('not a pendulum bundle');
    if (header.readUInt32BE(magic.length) !== formatVersion)
      throw bad(`bundle format ${header.readUInt32BE(magic.length)} is not supported`);
    const length = header.readUInt32BE(magic.length + 4);
    if (length === 0 || length > maxManifestBytes + 64 * 1024)
      throw bad(`manifest envelope of ${length} bytes is out of range`);
    const envelope = Buffer.alloc(length);
    if ((await handle.read(envelope, 0, length, headerBytes)).bytesRead < length)
      throw bad('truncated manifest');
    let signed: Signed;
    let manifest: Manifest;
    try {
      signed = fromBinary(SignedSchema, envelope);
      manifest = fromBinary(ManifestSchema, signed.body);
    } catch (error) {
      throw bad('manifest does not decode', error);
    }
    let offset = headerBytes + length;
    const parts = manifest.components.map((component) => {
      const part = { component: component.name, offset, size: Number(component.size) };
      offset += part.size;
      return part;
    });
    const { size } = await stat(path);
    if (size !== offset) throw bad(`is ${size} bytes; its manifest says ${offset}`);
    return { path, signed, manifest, parts };
  } finally {
    await handle.close();
  }
}

// readPart streams one component's payload out of a bundle in chunks.
export function readPart(
  bundle: OpenedBundle,
  part: BundlePart,
  chunkBytes: number,
): AsyncIterable<Buffer> {
  return createReadStream(bundle.path, {
    start: part.offset,
    end: part.offset + part.size - 1,
    highWaterMark: chunkBytes,
  });
}
