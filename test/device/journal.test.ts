import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createJournal } from '../../src/device/journal.js';
import { isPendulumError, PendulumError } from '../../src/errors.js';
import { tempPathFor } from '../../src/fs/atomic-write.js';
import { canMount, mountTmpfs, unmount } from '../support/storage.js';

interface State {
  step: string;
  offset: number;
}

function validateState(value: unknown, source: string): State {
  const v = value as Partial<State> | null;
  if (typeof v?.step !== 'string' || typeof v.offset !== 'number') {
    throw new PendulumError('MALFORMED', `${source}: not an agent state`);
  }
  return { step: v.step, offset: v.offset };
}

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pendulum-journal-'));
  path = join(dir, 'state.json');
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

describe('journal', () => {
  it('loads nothing on a device that never saved state', async () => {
    expect(await createJournal(path, validateState).load()).toBeUndefined();
  });

  it('reads back saved state after a restart', async () => {
    await createJournal(path, validateState).save({ step: 'download', offset: 4096 });
    expect(await createJournal(path, validateState).load()).toEqual({
      step: 'download',
      offset: 4096,
    });
  });

  it('leaves no temporary file behind after saving', async () => {
    const journal = createJournal(path, validateState);
    await journal.save({ step: 'install', offset: 0 });
    await journal.save({ step: 'arm', offset: 0 });
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('a crash between temp write and rename leaves the old journal readable', async () => {
    const journal = createJournal(path, validateState);
    await journal.save({ step: 'download', offset: 1 });
    // What a power cut mid-save leaves: a half-written temp file beside the journal.
    await writeFile(tempPathFor(path), '{"step":"ins');
    expect(await journal.load()).toEqual({ step: 'download', offset: 1 });
    await journal.save({ step: 'install', offset: 2 });
    expect(await journal.load()).toEqual({ step: 'install', offset: 2 });
  });

  it('a crash during the very first save leaves no state, not a corrupt one', async () => {
    await writeFile(tempPathFor(path), '{"step":"dow');
    expect(await createJournal(path, validateState).load()).toBeUndefined();
  });

  it('reports a truncated journal as STATE_CORRUPT naming the file', async () => {
    await writeFile(path, '{"step":"download","off');
    const error = await failure(createJournal(path, validateState).load());
    expect(error.code).toBe('STATE_CORRUPT');
    expect(error.message).toBe(`journal ${path} is not valid JSON`);
    expect(error.context).toEqual({ file: path });
  });

  it('reports a journal that fails validation as STATE_CORRUPT naming the file', async () => {
    await writeFile(path, '{"step": 7}');
    const error = await failure(createJournal(path, validateState).load());
    expect(error.code).toBe('STATE_CORRUPT');
    expect(error.message).toBe(`journal ${path} is invalid: ${path}: not an agent state`);
  });

  it('reports an unreadable journal as STATE_CORRUPT naming the file', async () => {
    await mkdir(path);
    const error = await failure(createJournal(path, validateState).load());
    expect(error.code).toBe('STATE_CORRUPT');
    expect(error.message).toBe(`cannot read journal ${path}: EISDIR`);
  });

  it('writes JSON a person can read', async () => {
    await createJournal(path, validateState).save({ step: 'verify', offset: 0 });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ step: 'verify', offset: 0 });
  });
});

describe.skipIf(!canMount)('journal on a full disk', () => {
  const mounts: string[] = [];
  afterAll(() => {
    for (const mount of mounts) unmount(mount);
  });

  it('keeps the previous state when a save runs out of space', async () => {
    const mount = await mountTmpfs('64k');
    mounts.push(mount);
    const statePath = join(mount, 'state.json');
    const journal = createJournal<{ blob: string }>(
      statePath,
      (value) => value as { blob: string },
    );
    await journal.save({ blob: 'old' });
    const error = await failure(journal.save({ blob: 'x'.repeat(256 * 1024) }));
    expect(error.code).toBe('STORAGE_FAILED');
    expect(error.message).toMatch(/no space left on device$/);
    expect(await journal.load()).toEqual({ blob: 'old' });
    expect(await readdir(mount)).toEqual(['state.json']);
  });
});
