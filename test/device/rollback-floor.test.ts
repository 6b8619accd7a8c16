// The anti-rollback floor store (src/device/rollback-floor.ts): what it keeps
// survives restarts and crashes, and anything but an intact floor fails closed
// — never reads as 0 (go-tuf CVE-2022-29173).
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRollbackFloorStore, formatRollbackFloor } from '../../src/device/rollback-floor.js';
import { isPendulumError, type PendulumError } from '../../src/errors.js';
import { tempPathFor } from '../../src/fs/atomic-write.js';
import { sha256, toHex } from '../../src/trust/index.js';
import { canMount, mountTmpfs, unmount } from '../support/storage.js';

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pendulum-floor-'));
  path = join(dir, 'rollback-floor');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<PendulumError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPendulumError(error)) throw new Error(`expected a PendulumError, got ${String(error)}`);
  return error;
}

// expectFailsClosed: STATE_CORRUPT naming the file, the problem, and how to restore it.
function expectFailsClosed(error: PendulumError, problem: string): void {
  expect(error.code).toBe('STATE_CORRUPT');
  expect(error.context).toEqual({ file: path });
  expect(error.message).toContain(`anti-rollback floor store ${path} ${problem}`);
  expect(error.message).toContain('refuses every update until it is restored');
  expect(error.message).toContain('pendulum agent floor set <sequence> --config <agent.toml>');
}

const checksum = (text: string) => toHex(sha256(new TextEncoder().encode(text)));

describe('rollback floor store', () => {
  it('reads back the floor it wrote after a restart', async () => {
    await createRollbackFloorStore(path).write(42);
    expect(await createRollbackFloorStore(path).read()).toBe(42);
  });

  it('writes one line a person can read: format tag, floor and its checksum', async () => {
    await createRollbackFloorStore(path).write(7);
    const body = 'pendulum-rollback-floor 1 7';
    expect(await readFile(path, 'utf8')).toBe(`${body} ${checksum(body)}\n`);
  });

  it('raises the floor and never lowers it', async () => {
    const store = createRollbackFloorStore(path);
    await store.write(5);
    expect(await store.raise(9)).toBe(9);
    expect(await store.raise(3)).toBe(9);
    expect(await store.read()).toBe(9);
  });

  it('rejects a missing store instead of reading it as floor 0', async () => {
    expectFailsClosed(await failure(createRollbackFloorStore(path).read()), 'is missing');
  });

  it('rejects a floor edited without its checksum', async () => {
    await createRollbackFloorStore(path).write(9);
    await writeFile(path, (await readFile(path, 'utf8')).replace(' 9 ', ' 0 '));
    expectFailsClosed(await failure(createRollbackFloorStore(path).read()), 'fails its checksum');
  });

  it('rejects a floor with a recomputed checksum but a number that is not a floor', async () => {
    const body = 'pendulum-rollback-floor 1 -3';
    await writeFile(path, `${body} ${checksum(body)}\n`);
    expectFailsClosed(await failure(createRollbackFloorStore(path).read()), 'holds "-3"');
  });

  it('rejects a file with another format tag or version', async () => {
    const other = 'other-floor 1 3';
    await writeFile(path, `${other} ${checksum(other)}\n`);
    expectFailsClosed(
      await failure(createRollbackFloorStore(path).read()),
      'is not a pendulum rollback floor file',
    );
    const newer = 'pendulum-rollback-floor 2 3';
    await writeFile(path, `${newer} ${checksum(newer)}\n`);
    expectFailsClosed(
      await failure(createRollbackFloorStore(path).read()),
      'has format version 2, not 1',
    );
  });

  it('rejects every truncation of a valid store, down to an empty file', async () => {
    const text = formatRollbackFloor(1234);
    for (let length = 0; length < text.length; length++) {
      await writeFile(path, text.slice(0, length));
      const error = await failure(createRollbackFloorStore(path).read());
      expect(error.code, `truncated to ${length} bytes`).toBe('STATE_CORRUPT');
    }
  });

  it('rejects an unreadable store naming why', async () => {
    await mkdir(path);
    expectFailsClosed(
      await failure(createRollbackFloorStore(path).read()),
      'cannot be read (EISDIR)',
    );
  });

  it('does not raise a missing store, and does not create it', async () => {
    expectFailsClosed(await failure(createRollbackFloorStore(path).raise(5)), 'is missing');
    expect(await readdir(dir)).toEqual([]);
  });

  it('creates the factory floor only where no store exists', async () => {
    const store = createRollbackFloorStore(path);
    expect(await store.create(1)).toBe(true);
    expect(await store.read()).toBe(1);
    await store.raise(8);
    // A journal reset starts the agent as if new: the floor it had survives.
    expect(await store.create(1)).toBe(false);
    expect(await store.read()).toBe(8);
  });

  it('never replaces a corrupt store with the factory floor', async () => {
    await writeFile(path, 'pendulum-rollback-floor 1 8 0000\n');
    expect(await createRollbackFloorStore(path).create(1)).toBe(false);
    expect(await readFile(path, 'utf8')).toBe('pendulum-rollback-floor 1 8 0000\n');
  });

  it('a crash between the temp write and the rename leaves the old floor', async () => {
    const store = createRollbackFloorStore(path);
    await store.write(3);
    // What a power cut mid-write leaves: a half-written temp file beside the store.
    await writeFile(tempPathFor(path), 'pendulum-rollback-floor 1 9');
    expect(await store.read()).toBe(3);
    await store.write(9);
    expect(await store.read()).toBe(9);
  });
});

describe.skipIf(!canMount)('rollback floor store on a full disk', () => {
  const mounts: string[] = [];
  afterAll(() => {
    for (const mount of mounts) unmount(mount);
  });

  it('keeps the old floor when raising it runs out of space', async () => {
    const mount = await mountTmpfs('64k');
    mounts.push(mount);
    const store = createRollbackFloorStore(join(mount, 'rollback-floor'));
    await store.write(3);
    await writeFile(join(mount, 'filler'), Buffer.alloc(256 * 1024)).catch(() => undefined);
    const error = await failure(store.raise(9));
    expect(error.code).toBe('STORAGE_FAILED');
    expect(error.message).toMatch(/no space left on device$/);
    expect(await store.read()).toBe(3);
    expect((await readdir(mount)).sort()).toEqual(['filler', 'rollback-floor']);
  });
});
