import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../../src/errors.js';
import { createLocalPayloadStore } from '../../../src/server/payloads/local.js';
import type { PayloadStore } from '../../../src/server/payloads/payload-store.js';
import { canMount } from '../../support/storage.js';

const never = new AbortController().signal;

function blob(size: number, seed = 1): { bytes: Uint8Array; sha256: string } {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function* chunked(bytes: Uint8Array, chunk = 1000): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += chunk)
    yield bytes.subarray(offset, offset + chunk);
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return chunks;
}

// leftovers lists every file under sha256/ and tmp/: a failed upload must leave none.
async function leftovers(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

let dir: string;
let store: PayloadStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pendulum-payloads-'));
  store = await createLocalPayloadStore(dir);
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('local payload store: uploads', () => {
  it('a verified upload is stored under its digest and reads back whole', async () => {
    const { bytes, sha256 } = blob(10_000);
    expect(await store.put({ sha256, size: bytes.length }, chunked(bytes), never)).toEqual({
      created: true,
    });
    expect(await store.stat(sha256)).toBe(10_000);
    expect(await readFile(join(dir, 'sha256', sha256.slice(0, 2), sha256))).toEqual(
      Buffer.from(bytes),
    );
    expect(Buffer.concat(await collect(store.read(sha256, 0, 4096, never)))).toEqual(
      Buffer.from(bytes),
    );
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('an upload longer than declared fails before it is all read and leaves nothing behind', async () => {
    const { bytes, sha256 } = blob(10_000);
    let pulled = 0;
    async function* endless() {
      for (let i = 0; i < 1_000; i++) {
        pulled++;
        yield bytes.subarray(0, 1000);
      }
    }
    const error = await store
      .put({ sha256, size: bytes.length }, endless(), never)
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'SIZE_MISMATCH')).toBe(true);
    expect(pulled).toBe(11);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('an upload shorter than declared fails and leaves nothing behind', async () => {
    const { bytes, sha256 } = blob(10_000);
    const error = await store
      .put({ sha256, size: bytes.length }, chunked(bytes.subarray(0, 9_999)), never)
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'SIZE_MISMATCH')).toBe(true);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('an upload whose bytes do not match its digest fails and leaves nothing behind', async () => {
    const { bytes } = blob(10_000);
    const other = blob(10_000, 2);
    const error = await store
      .put({ sha256: other.sha256, size: bytes.length }, chunked(bytes), never)
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'DIGEST_MISMATCH')).toBe(true);
    expect(await leftovers(dir)).toEqual([]);
    expect(await store.stat(other.sha256)).toBeUndefined();
  });

  it('uploading a stored blob again verifies the stream and keeps the blob', async () => {
    const { bytes, sha256 } = blob(5_000);
    await store.put({ sha256, size: bytes.length }, chunked(bytes), never);
    expect(await store.put({ sha256, size: bytes.length }, chunked(bytes), never)).toEqual({
      created: false,
    });

    const forged = new Uint8Array(bytes);
    forged[0] = (forged[0] ?? 0) ^ 1;
    const error = await store
      .put({ sha256, size: bytes.length }, chunked(forged), never)
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'DIGEST_MISMATCH')).toBe(true);
    expect(await readFile(join(dir, 'sha256', sha256.slice(0, 2), sha256))).toEqual(
      Buffer.from(bytes),
    );
  });

  it('a cancelled upload stops even while the client sends nothing', async () => {
    const { bytes, sha256 } = blob(10_000);
    async function* stalls() {
      yield bytes.subarray(0, 1000);
      await new Promise(() => {});
    }
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await store
      .put({ sha256, size: bytes.length }, stalls(), controller.signal)
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'CANCELLED')).toBe(true);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('a client stream that breaks is not reported as a storage failure', async () => {
    const { bytes, sha256 } = blob(10_000);
    async function* breaks() {
      yield bytes.subarray(0, 1000);
      throw new Error('client went away');
    }
    const error = await store
      .put({ sha256, size: bytes.length }, breaks(), never)
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'CANCELLED')).toBe(true);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('an id that is not a hex SHA-256 never reaches the filesystem', async () => {
    for (const id of ['../../../etc/passwd', 'A'.repeat(64), '']) {
      const error = await store
        .put({ sha256: id, size: 1 }, chunked(new Uint8Array(1)), never)
        .catch((e: unknown) => e);
      expect(isPendulumError(error, 'INVALID_ARGUMENT')).toBe(true);
      expect(
        isPendulumError(await store.stat(id).catch((e: unknown) => e), 'INVALID_ARGUMENT'),
      ).toBe(true);
    }
  });
});

describe('local payload store: downloads', () => {
  it('a download resumes from an offset in chunks no larger than asked', async () => {
    const { bytes, sha256 } = blob(10_000);
    await store.put({ sha256, size: bytes.length }, chunked(bytes), never);
    const chunks = await collect(store.read(sha256, 2_500, 3_000, never));
    expect(chunks.map((c) => c.length)).toEqual([3_000, 3_000, 1_500]);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes.subarray(2_500)));
    expect(await collect(store.read(sha256, 10_000, 3_000, never))).toEqual([]);
  });

  it('a download asks its chunk size again before each chunk', async () => {
    const { bytes, sha256 } = blob(10_000);
    await store.put({ sha256, size: bytes.length }, chunked(bytes), never);
    const sizes = [4_000, 1_000, 2_000];
    const chunks = await collect(store.read(sha256, 0, () => sizes.shift() ?? 5_000, never));
    expect(chunks.map((c) => c.length)).toEqual([4_000, 1_000, 2_000, 3_000]);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes));
  });

  it('reading past the end is refused', async () => {
    const { bytes, sha256 } = blob(100);
    await store.put({ sha256, size: bytes.length }, chunked(bytes), never);
    const error = await collect(store.read(sha256, 101, 10, never)).catch((e: unknown) => e);
    expect(isPendulumError(error, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('reading an unknown payload is NOT_FOUND', async () => {
    const error = await collect(store.read(blob(1).sha256, 0, 10, never)).catch((e: unknown) => e);
    expect(isPendulumError(error, 'NOT_FOUND')).toBe(true);
  });

  it('a download stops when its caller cancels', async () => {
    const { bytes, sha256 } = blob(10_000);
    await store.put({ sha256, size: bytes.length }, chunked(bytes), never);
    const controller = new AbortController();
    let received = 0;
    const error = await (async () => {
      for await (const chunk of store.read(sha256, 0, 1_000, controller.signal)) {
        received += chunk.length;
        controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(isPendulumError(error, 'CANCELLED')).toBe(true);
    expect(received).toBe(1_000);
  });
});

describe('local payload store: start-up', () => {
  it('temp files left by a crashed upload are removed when the store opens; live ones are kept', async () => {
    const stale = join(dir, 'tmp', 'crashed.part');
    const live = join(dir, 'tmp', 'in-progress.part');
    await writeFile(stale, 'partial');
    await writeFile(live, 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);
    await createLocalPayloadStore(dir);
    expect(await readdir(join(dir, 'tmp'))).toEqual(['in-progress.part']);
  });
});

describe.skipIf(!canMount)('local payload store on a full disk', () => {
  let mount: string;

  beforeAll(async () => {
    mount = await mkdtemp(join(tmpdir(), 'pendulum-payloads-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
  });

  afterAll(async () => {
    execFileSync('umount', [mount]);
    await rm(mount, { recursive: true, force: true });
  });

  it('a full disk during upload leaves no partial blob', async () => {
    const full = join(mount, 'payloads');
    await mkdir(full);
    const small = await createLocalPayloadStore(full);
    const { bytes, sha256 } = blob(2 * 1024 * 1024);
    const error = await small
      .put({ sha256, size: bytes.length }, chunked(bytes, 64 * 1024), never)
      .catch((e: unknown) => e);
    expect(isPendulumError(error, 'STORAGE_FAILED')).toBe(true);
    expect((error as { context: Record<string, unknown> }).context.errno).toBe('ENOSPC');
    expect(await leftovers(full)).toEqual([]);
    expect(await small.stat(sha256)).toBeUndefined();

    // The space is back: a blob that fits still goes in.
    const fits = blob(100_000);
    expect(
      await small.put({ sha256: fits.sha256, size: fits.bytes.length }, chunked(fits.bytes), never),
    ).toEqual({ created: true });
  });
});
