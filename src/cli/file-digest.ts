// Size and SHA-256 of a file, streamed.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PendulumError } from '../errors.js';

// fileDigest reads a file once and returns its size and hex SHA-256.
export async function fileDigest(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (error) {
    throw new PendulumError(
      'NOT_FOUND',
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      { context: { file: path }, cause: error },
    );
  }
  if (size === 0)
    throw new PendulumError('INVALID_ARGUMENT', `${path} is empty`, { context: { file: path } });
  return { size, sha256: hash.digest('hex') };
}
