// A payload store in a local directory: <dir>/sha256/<2 hex>/<64 hex>, written
// through <dir>/tmp/ so a blob under sha256/ is always complete and verified.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoCode, PendulumError } from '../../errors.js';
import { fsyncDirectory, storageError } from '../../fs/atomic-write.js';
import { isSha256Hex } from '../../trust/digest.js';
import type { PayloadStore } from './payload-store.js';
import { verifyStream } from './verify-stream.js';

// Temp files untouched this long belong to no live upload. Not zero: several
// servers may share the directory, and another one's upload must survive.
export const defaultStaleTempAgeMs = 60 * 60 * 1000;

export interface LocalPayloadStoreOptions {
  readonly staleTempAgeMs?: number;
}

// createLocalPayloadStore opens (creating if needed) a store in `dir` and
// removes temp files left by crashed uploads.
export async function createLocalPayloadStore(
  dir: string,
  options: LocalPayloadStoreOptions = {},
): Promise<PayloadStore> {
  const blobs = join(dir, 'sha256');
  const temps = join(dir, 'tmp');
  try {
    await mkdir(blobs, { recursive: true });
    await mkdir(temps, { recursive: true });
    await removeStaleTemps(temps, options.staleTempAgeMs ?? defaultStaleTempAgeMs);
  } catch (error) {
    throw storageError(error, `cannot open payload store ${dir}`);
  }
  const blobPath = (id: string) => join(blobs, id.slice(0, 2), id);

  const stat_ = async (id: string): Promise<number | undefined> => {
    requireId(id);
    try {
      return (await stat(blobPath(id))).size;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw storageError(error, `cannot stat payload ${id}`);
    }
  };

  return {
    stat: stat_,

    async put(expected, chunks, signal) {
      requireId(expected.sha256);
      requireInteger(expected.size, 'size', 0);
      if ((await stat_(expected.sha256)) !== undefined) {
        await verifyStream(expected, chunks, signal, async () => {});
        return { created: false };
      }
      const final = blobPath(expected.sha256);
      const temp = join(temps, `${expected.sha256}.${randomBytes(6).toString('hex')}.part`);
      let handle: FileHandle | undefined;
      try {
        handle = await open(temp, 'wx', 0o644);
        const file = handle;
        await verifyStream(expected, chunks, signal, (chunk) => writeAll(file, chunk));
        await handle.sync();
        await handle.close();
        handle = undefined;
        // A new shard directory must itself survive a crash before the rename into it.
        if ((await mkdir(dirname(final), { recursive: true })) !== undefined)
          await fsyncDirectory(blobs);
        await rename(temp, final);
        await fsyncDirectory(dirname(final));
        return { created: true };
      } catch (error) {
        await handle?.close().catch(() => undefined);
        await rm(temp, { force: true });
        throw failure(error, `cannot store payload ${expected.sha256}`, signal);
      }
    },

    async *read(id, offset, chunkBytes, signal) {
      requireId(id);
      requireInteger(offset, 'offset', 0);
      if (typeof chunkBytes === 'number') requireInteger(chunkBytes, 'chunkBytes', 1);
      const chunkSize = () => {
        const bytes = typeof chunkBytes === 'number' ? chunkBytes : chunkBytes();
        requireInteger(bytes, 'chunkBytes', 1);
        return bytes;
      };
      signal.throwIfAborted();
      let handle: FileHandle;
      try {
        handle = await open(blobPath(id), 'r');
      } catch (error) {
        if (errnoCode(error) === 'ENOENT')
          throw new PendulumError('NOT_FOUND', `payload ${id} not found`, {
            context: { payloadId: id },
          });
        throw storageError(error, `cannot open payload ${id}`);
      }
      try {
        const size = (await handle.stat()).size;
        if (offset > size) {
          throw new PendulumError(
            'INVALID_ARGUMENT',
            `offset ${offset} is beyond payload ${id} of ${size} bytes`,
            { context: { field: 'offset' } },
          );
        }
        for (let position = offset; position < size; ) {
          signal.throwIfAborted();
          const buffer = new Uint8Array(Math.min(chunkSize(), size - position));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0)
            throw new PendulumError(
              'STORAGE_FAILED',
              `payload ${id} ends at ${position}, short of its ${size} bytes`,
            );
          position += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      } catch (error) {
        throw failure(error, `cannot read payload ${id}`, signal);
      } finally {
        await handle.close();
      }
    },
  };
}

// writeAll writes a whole chunk at the file position, however the kernel splits it.
async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
    done += bytesWritten;
  }
}

async function removeStaleTemps(temps: string, maxAgeMs: number): Promise<void> {
  const cutoff = Date.now() - maxAgeMs;
  for (const name of await readdir(temps)) {
    const path = join(temps, name);
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && info.mtimeMs <= cutoff)
      await rm(path, { force: true, recursive: true });
  }
}

// Ids become paths: only a lower-case hex SHA-256 may reach the filesystem.
function requireId(id: string): void {
  if (!isSha256Hex(id)) {
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `payload id must be 64 lower-case hex digits, got ${JSON.stringify(id.slice(0, 80))}`,
      {
        context: { field: 'payload_id' },
      },
    );
  }
}

function requireInteger(value: number, field: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `${field} must be an integer ≥ ${min}, got ${value}`,
      { context: { field } },
    );
  }
}

function failure(error: unknown, message: string, signal: AbortSignal): PendulumError {
  if (error instanceof PendulumError) return error;
  if (signal.aborted)
    return new PendulumError('CANCELLED', `${message}: cancelled`, { cause: error });
  return storageError(error, message);
}
