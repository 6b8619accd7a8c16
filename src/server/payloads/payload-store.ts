// The payload store port: content-addressed blobs named by their SHA-256.
// One implementation per backend (local.ts: a directory).

export interface PayloadStore {
  // stat returns the size of a stored blob, or undefined if it is absent.
  stat(id: string): Promise<number | undefined>;
  // put stores a stream whose size and digest are declared up front. Bytes
  // are checked as they arrive; on any failure nothing is stored. A blob
  // already present is not rewritten, but the stream is still verified.
  put(
    expected: { sha256: string; size: number },
    chunks: AsyncIterable<Uint8Array>,
    signal: AbortSignal,
  ): Promise<{ created: boolean }>;
  // read streams a blob from `offset` (resumed downloads) in chunks of at
  // most `chunkBytes` (asked again before each chunk, if a function); errors
  // (NOT_FOUND, INVALID_ARGUMENT) surface on the first iteration.
  read(
    id: string,
    offset: number,
    chunkBytes: number | (() => number),
    signal: AbortSignal,
  ): AsyncIterable<Uint8Array>;
}
