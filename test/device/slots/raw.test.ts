import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  link,
  mkdir,
  mkdtemp,
  open,
  readFile,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRawSlot } from '../../../src/device/slots/raw.js';
import type { Slot } from '../../../src/device/slots/slot.js';
import { isPendulumError, type PendulumError } from '../../../src/errors.js';
import {
  attachLoop,
  canMount,
  canUseLoopDevices,
  detachLoop,
  hasCommand,
  mountTmpfs,
  unmount,
} from '../../support/storage.js';

const MiB = 1024 * 1024;
const running = new AbortController().signal;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pendulum-raw-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// slotFile makes a pre-allocated slot file filled with `fill`.
async function slotFile(name: string, size: number, fill = 0xaa): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, Buffer.alloc(size, fill));
  return path;
}

// install writes `image` into `slot` from `offset` in uneven chunks, as a download would.
async function install(slot: Slot, booted: Slot, image: Uint8Array, offset = 0): Promise<number> {
  const writer = await slot.openWriter(offset, booted, running);
  expect(writer.position).toBe(offset);
  for (let at = offset; at < image.length; at += 64 * 1024 + 7) {
    await writer.write(image.subarray(at, Math.min(at + 64 * 1024 + 7, image.length)));
  }
  await writer.close();
  return writer.position;
}

async function readAll(slot: Slot, offset: number, length: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of slot.read(offset, length, running)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function failure(promise: Promise<unknown>): Promise<PendulumError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPendulumError(error)) throw new Error(`expected a PendulumError, got ${String(error)}`);
  return error;
}

describe('raw slot on a plain file', () => {
  let booted: Slot;
  beforeAll(async () => {
    booted = createRawSlot({ name: 'A', device: await slotFile('running-A.img', MiB, 0x11) });
  });

  it('reports the size of the pre-allocated file as its capacity', async () => {
    const slot = createRawSlot({ name: 'B', device: await slotFile('capacity.img', 3 * MiB) });
    expect(slot.kind).toBe('raw');
    expect(await slot.capacity()).toBe(3 * MiB);
  });

  it('writes an image and reads back its SHA-256 with progress', async () => {
    const slot = createRawSlot({ name: 'B', device: await slotFile('image.img', 4 * MiB) });
    const image = randomBytes(3 * MiB + 123);
    expect(await install(slot, booted, image)).toBe(image.length);
    const progress: number[] = [];
    expect(await slot.digest(image.length, running, (done) => progress.push(done))).toBe(
      sha256(image),
    );
    expect(progress.at(-1)).toBe(image.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect((await readAll(slot, 1000, 2 * MiB)).equals(image.subarray(1000, 1000 + 2 * MiB))).toBe(
      true,
    );
  });

  it('resumes from an offset and ends with the whole image', async () => {
    const slot = createRawSlot({ name: 'B', device: await slotFile('resume.img', 2 * MiB) });
    const image = randomBytes(MiB + 77);
    await install(slot, booted, image.subarray(0, 300_001));
    expect(await install(slot, booted, image, 300_001)).toBe(image.length);
    expect(await slot.digest(image.length, running)).toBe(sha256(image));
  });

  it('never truncates or extends the slot file', async () => {
    const path = await slotFile('size.img', 2 * MiB);
    const slot = createRawSlot({ name: 'B', device: path });
    await install(slot, booted, randomBytes(1000));
    const after = await readFile(path);
    expect(after.length).toBe(2 * MiB);
    expect(after.subarray(1000).every((byte) => byte === 0xaa)).toBe(true);
  });

  it('refuses to write past the end of the slot', async () => {
    const path = await slotFile('full.img', MiB);
    const slot = createRawSlot({ name: 'B', device: path });
    const writer = await slot.openWriter(MiB - 10, booted, running);
    const error = await failure(writer.write(new Uint8Array(20)));
    await writer.close();
    expect(error.code).toBe('SLOT_WRITE_FAILED');
    expect(error.message).toBe(
      `slot B (${path}): write past the end of the slot: 20 bytes at byte ${MiB - 10}, capacity ${MiB}`,
    );
    expect((await stat(path)).size).toBe(MiB);
  });

  it('refuses to resume beyond the end of the slot', async () => {
    const slot = createRawSlot({ name: 'B', device: await slotFile('beyond.img', MiB) });
    const error = await failure(slot.openWriter(MiB + 1, booted, running));
    expect(error.code).toBe('SLOT_WRITE_FAILED');
    expect(error.message).toMatch(/cannot resume at byte 1048577: the slot holds 1048576 bytes$/);
  });

  it('fails to read back more than the slot holds', async () => {
    const slot = createRawSlot({ name: 'B', device: await slotFile('short.img', MiB) });
    const error = await failure(slot.digest(MiB + 1, running));
    expect(error.code).toBe('SLOT_WRITE_FAILED');
    expect(error.message).toMatch(/the slot ends at byte 1048576, before byte 1048577$/);
  });

  it('refuses to write the slot the system booted from', async () => {
    const error = await failure(booted.openWriter(0, booted, running));
    expect(error.code).toBe('SLOT_ACTIVE');
    expect(error.message).toBe(
      `refusing to write slot A (${booted.location}): it is the booted slot`,
    );
  });

  it.each([
    [
      'a hard link',
      (path: string) => link(path, join(dir, 'hardlink.img')).then(() => join(dir, 'hardlink.img')),
    ],
    [
      'a symlink',
      (path: string) =>
        symlink(path, join(dir, 'symlink.img')).then(() => join(dir, 'symlink.img')),
    ],
    [
      'a detour through another directory',
      async (path: string) => {
        await mkdir(join(dir, 'sub'), { recursive: true });
        return `${dir}/sub/../${basename(path)}`;
      },
    ],
  ])("refuses the booted slot's file reached through %s", async (_, otherPath) => {
    const slot = createRawSlot({ name: 'B', device: await otherPath(booted.location) });
    const error = await failure(slot.openWriter(0, booted, running));
    expect(error.code).toBe('SLOT_ACTIVE');
    expect(error.message).toContain('it is the same storage as the booted slot A');
    expect((await readFile(booted.location)).every((byte) => byte === 0x11)).toBe(true);
  });

  it('refuses to write when it cannot tell where the booted slot is', async () => {
    const slot = createRawSlot({ name: 'B', device: await slotFile('unknown.img', MiB) });
    const lost = createRawSlot({ name: 'A', device: join(dir, 'no-such-slot.img') });
    const error = await failure(slot.openWriter(0, lost, running));
    expect(error.code).toBe('SLOT_ACTIVE');
    expect(error.message).toMatch(
      /cannot tell whether it is the booted slot A: .*: no such file or device$/,
    );
  });

  it('reports a missing slot device as SLOT_WRITE_FAILED naming it', async () => {
    const path = join(dir, 'missing.img');
    const error = await failure(createRawSlot({ name: 'B', device: path }).capacity());
    expect(error.code).toBe('SLOT_WRITE_FAILED');
    expect(error.message).toBe(`slot B (${path}): stat failed: no such file or device`);
  });

  it('rejects a directory as a slot with CONFIG_INVALID', async () => {
    const error = await failure(createRawSlot({ name: 'B', device: dir }).capacity());
    expect(error.code).toBe('CONFIG_INVALID');
  });

  it('stops writing and reading when cancelled', async () => {
    const slot = createRawSlot({ name: 'B', device: await slotFile('cancel.img', 4 * MiB) });
    const controller = new AbortController();
    const writer = await slot.openWriter(0, booted, controller.signal);
    await writer.write(new Uint8Array(10));
    controller.abort();
    expect((await failure(writer.write(new Uint8Array(10)))).code).toBe('CANCELLED');
    await writer.close();
    expect((await failure(slot.openWriter(0, booted, controller.signal))).code).toBe('CANCELLED');
    const reading = new AbortController();
    const digest = slot.digest(4 * MiB, reading.signal, () => reading.abort());
    expect((await failure(digest)).code).toBe('CANCELLED');
  });
});

describe.skipIf(!canMount)('raw slot on a full disk', () => {
  let mount: string;
  beforeAll(async () => {
    mount = await mountTmpfs('1m');
  });
  afterAll(() => unmount(mount));

  it('reports running out of space as "no space left on device"', async () => {
    // A sparse file promises more than the 1 MiB disk under it holds.
    const path = join(mount, 'sparse.img');
    await writeFile(path, '');
    await truncate(path, 4 * MiB);
    const booted = createRawSlot({ name: 'A', device: await slotFile('full-disk-A.img', 1024) });
    const slot = createRawSlot({ name: 'B', device: path });
    expect(await slot.capacity()).toBe(4 * MiB);
    const writer = await slot.openWriter(0, booted, running);
    const error = await failure(writer.write(randomBytes(2 * MiB)));
    await writer.close().catch(() => undefined);
    expect(error.code).toBe('SLOT_WRITE_FAILED');
    expect(error.message).toBe(`slot B (${path}): write at byte 0 failed: no space left on device`);
    expect(error.context).toMatchObject({ slot: 'B', errno: 'ENOSPC' });
  });
});

// On this project's CI and dev machines (root, losetup) this must run, not skip.
describe.skipIf(!canUseLoopDevices)('raw slot on a loop device', () => {
  const loops: string[] = [];
  const mounts: string[] = [];
  let fileA: string;
  let loopA: string;
  let loopB: string;
  const attach = (file: string) => {
    const loop = attachLoop(file);
    loops.push(loop);
    return loop;
  };

  beforeAll(async () => {
    fileA = await slotFile('loop-A.img', 2 * MiB);
    loopA = attach(fileA);
    loopB = attach(await slotFile('loop-B.img', 2 * MiB));
  });
  afterAll(() => {
    for (const mount of mounts) unmount(mount);
    for (const loop of loops) detachLoop(loop);
  });

  it("reports the device's size from sysfs as its capacity", async () => {
    expect(await createRawSlot({ name: 'B', device: loopB }).capacity()).toBe(2 * MiB);
  });

  it('writes, resumes and reads back an image that lands in the backing file', async () => {
    const booted = createRawSlot({ name: 'A', device: loopA });
    const slot = createRawSlot({ name: 'B', device: loopB });
    const image = randomBytes(MiB + 4096 + 3);
    await install(slot, booted, image.subarray(0, 512 * 1024 + 1));
    await install(slot, booted, image, 512 * 1024 + 1);
    expect(await slot.digest(image.length, running)).toBe(sha256(image));
    const backing = await readFile(join(dir, 'loop-B.img'));
    expect(backing.subarray(0, image.length).equals(image)).toBe(true);
  });

  it('refuses the booted loop device reached through another device node', async () => {
    const { rdev } = await stat(loopA);
    const node = join(dir, 'other-node');
    execFileSync('mknod', [node, 'b', String(Math.floor(rdev / 256) & 0xfff), String(rdev & 0xff)]);
    const error = await failure(
      createRawSlot({ name: 'B', device: node }).openWriter(
        0,
        createRawSlot({ name: 'A', device: loopA }),
        running,
      ),
    );
    expect(error.code).toBe('SLOT_ACTIVE');
    expect(error.message).toContain(`it is the same storage as the booted slot A (${loopA})`);
  });

  it("refuses a loop device over the booted slot's file", async () => {
    const booted = createRawSlot({ name: 'A', device: fileA });
    const error = await failure(
      createRawSlot({ name: 'B', device: loopA }).openWriter(0, booted, running),
    );
    expect(error.code).toBe('SLOT_ACTIVE');
    expect(error.message).toContain('it is the same storage as the booted slot A');
  });

  it('refuses a device another program holds exclusively', async () => {
    const holder = await open(loopB, constants.O_RDONLY | constants.O_EXCL);
    try {
      const booted = createRawSlot({ name: 'A', device: loopA });
      const error = await failure(
        createRawSlot({ name: 'B', device: loopB }).openWriter(0, booted, running),
      );
      expect(error.code).toBe('SLOT_ACTIVE');
      expect(error.message).toBe(
        `refusing to write slot B (${loopB}): it is in use (mounted or held by another driver)`,
      );
    } finally {
      await holder.close();
    }
  });

  it('holds the device exclusively while writing, so nothing can mount it meanwhile', async () => {
    const writer = await createRawSlot({ name: 'B', device: loopB }).openWriter(
      0,
      createRawSlot({ name: 'A', device: loopA }),
      running,
    );
    try {
      const error = await open(loopB, constants.O_RDONLY | constants.O_EXCL).then(
        (handle) => handle.close(),
        (e: unknown) => e,
      );
      expect((error as { code?: string } | undefined)?.code).toBe('EBUSY');
    } finally {
      await writer.close();
    }
  });

  it.skipIf(!hasCommand('mkfs.ext4'))(
    'refuses a mounted device, naming where it is mounted',
    async () => {
      const file = await slotFile('mounted.img', 4 * MiB, 0);
      execFileSync('mkfs.ext4', ['-q', '-F', file]);
      const loop = attach(file);
      const mountPoint = await mkdtemp(join(tmpdir(), 'pendulum-mnt-'));
      execFileSync('mount', [loop, mountPoint]);
      mounts.push(mountPoint);
      const booted = createRawSlot({ name: 'A', device: loopA });
      const error = await failure(
        createRawSlot({ name: 'B', device: loop }).openWriter(0, booted, running),
      );
      expect(error.code).toBe('SLOT_ACTIVE');
      expect(error.message).toBe(
        `refusing to write slot B (${loop}): it is mounted at ${mountPoint}`,
      );
    },
  );
});
