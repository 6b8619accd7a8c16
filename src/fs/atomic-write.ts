// Replace a file so that a crash leaves either the old or the new content:
// temp file in the same directory → write → fsync → rename → fsync directory.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoCode, PendulumError } from '../errors.js';

export interface AtomicWriteOptions {
  // File mode of the new file (0o600 for secrets).
  readonly mode?: number;
}

// writeFileAtomic replaces `path` with `data`, durably.
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = tempPathFor(path);
  try {
    const handle = await open(temp, 'wx', options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await fsyncDirectory(dirname(path));
  } catch (error) {
    await rm(temp, { force: true });
    throw storageError(error, `cannot write ${path}`);
  }
}

// tempPathFor names a hidden temporary file beside `path`.
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

// fsyncDirectory makes a rename in `dir` durable.
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// storageError turns a filesystem failure into STORAGE_FAILED with the errno
// kept, so "disk full" reads as such.
export function storageError(error: unknown, message: string): PendulumError {
  if (error instanceof PendulumError) return error;
  const errno = errnoCode(error);
  const reason =
    errno === 'ENOSPC'
      ? 'no space left on device'
      : errno === 'EACCES'
        ? 'permission denied'
        : (errno ?? 'I/O error');
  return new PendulumError('STORAGE_FAILED', `${message}: ${reason}`, {
    context: { errno },
    cause: error,
  });
}
