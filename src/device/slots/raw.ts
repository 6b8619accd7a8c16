// The raw slot backend: a release image written byte for byte to a partition,
// a loop device, or a pre-allocated plain file. The target is never created,
// truncated or extended: its size is the slot's capacity.
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { constants, type FileHandle, open, stat } from 'node:fs/promises';
import { errnoCode, invariant, isPendulumError, PendulumError } from '../../errors.js';
import { blockDeviceSize, majorMinor, mountPointOf, storageIds } from './block-device.js';
import type { Slot, SlotName, SlotWriter } from './slot.js';

export interface RawSlotConfig {
  readonly name: SlotName;
  // A block device node or a plain file.
  readonly device: string;
}

// Bytes read per step when reading a slot back.
const readChunkBytes = 1024 * 1024;

// createRawSlot is the Slot for a block device or plain file.
export function createRawSlot(config: RawSlotConfig): Slot {
  const { name, device } = config;
  const errors = slotErrors(name, device);
  const { label } = errors;

  const target = async (): Promise<BigIntStats> => {
    const stats = await stat(device, { bigint: true }).catch((error: unknown) => {
      throw errors.io('stat', error);
    });
    if (!stats.isFile() && !stats.isBlockDevice()) {
      const message = `${label} is neither a block device nor a plain file`;
      throw new PendulumError('CONFIG_INVALID', message, { context: { slot: name } });
    }
    return stats;
  };
  const capacityOf = async (stats: BigIntStats): Promise<number> =>
    stats.isFile()
      ? Number(stats.size)
      : blockDeviceSize(majorMinor(stats.rdev)).catch((error: unknown) => {
          throw errors.io('reading its size from sysfs', error);
        });

  const slot: Slot = {
    name,
    kind: 'raw',
    location: device,
    capacity: async () => capacityOf(await target()),

    async openWriter(offset, booted, signal) {
      invariant(Number.isSafeInteger(offset) && offset >= 0, `bad slot offset ${offset}`);
      if (signal.aborted) throw errors.cancelled(signal);
      if (booted.name === name) throw errors.active(`it is the booted slot`);
      const stats = await target();
      // The running system must never be overwritten: when its storage cannot
      // be identified, refuse rather than guess.
      const bootedStats = await stat(booted.location, { bigint: true }).catch((error: unknown) => {
        throw errors.active(
          `cannot tell whether it is the booted slot ${booted.name}: ${booted.location}: ${describeErrno(error)}`,
        );
      });
      const bootedIds = await storageIds(bootedStats);
      for (const id of await storageIds(stats)) {
        if (bootedIds.has(id)) {
          throw errors.active(
            `it is the same storage as the booted slot ${booted.name} (${booted.location})`,
          );
        }
      }
      const isBlock = stats.isBlockDevice();
      if (isBlock) {
        const mountPoint = await mountPointOf(majorMinor(stats.rdev));
        if (mountPoint !== undefined) throw errors.active(`it is mounted at ${mountPoint}`);
      }
      const capacity = await capacityOf(stats);
      if (offset > capacity) {
        throw errors.failed(`cannot resume at byte ${offset}: the slot holds ${capacity} bytes`);
      }
      // O_EXCL on a block device fails while the kernel holds it (mounted,
      // part of a RAID or device-mapper target, swap), and keeps it from being
      // mounted while we write.
      const flags = constants.O_WRONLY | (isBlock ? constants.O_EXCL : 0);
      const handle = await open(device, flags).catch((error: unknown) => {
        if (errnoCode(error) === 'EBUSY') {
          throw errors.active('it is in use (mounted or held by another driver)');
        }
        throw errors.io('open', error);
      });
      return createWriter({ handle, offset, capacity, signal, errors });
    },

    async *read(offset, length, signal) {
      invariant(Number.isSafeInteger(offset) && offset >= 0, `bad read offset ${offset}`);
      invariant(Number.isSafeInteger(length) && length >= 0, `bad read length ${length}`);
      if (signal.aborted) throw errors.cancelled(signal);
      const handle = await open(device, 'r').catch((error: unknown) => {
        throw errors.io('open', error);
      });
      try {
        let done = 0;
        while (done < length) {
          if (signal.aborted) throw errors.cancelled(signal);
          // A fresh buffer per chunk: the consumer may keep what it was given.
          const buffer = Buffer.allocUnsafe(Math.min(readChunkBytes, length - done));
          const { bytesRead } = await handle
            .read(buffer, 0, buffer.length, offset + done)
            .catch((error: unknown) => {
              throw errors.io(`read at byte ${offset + done}`, error);
            });
          if (bytesRead === 0) {
            throw errors.failed(
              `the slot ends at byte ${offset + done}, before byte ${offset + length}`,
            );
          }
          done += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await handle.close();
      }
    },

    async digest(length, signal, onProgress) {
      const hash = createHash('sha256');
      let done = 0;
      for await (const chunk of slot.read(0, length, signal)) {
        hash.update(chunk);
        done += chunk.byteLength;
        onProgress?.(done);
      }
      return hash.digest('hex');
    },
  };
  return slot;
}

interface WriterParts {
  readonly handle: FileHandle;
  readonly offset: number;
  readonly capacity: number;
  readonly signal: AbortSignal;
  readonly errors: SlotErrors;
}

// Positional writes: no stream whose end or close could be lost, and a
// resumed write lands exactly where the journal says the last one ended.
function createWriter(parts: WriterParts): SlotWriter {
  const { handle, capacity, signal, errors } = parts;
  let position = parts.offset;
  let closed = false;
  return {
    get position() {
      return position;
    },
    async write(chunk) {
      invariant(!closed, 'write after close');
      if (signal.aborted) throw errors.cancelled(signal);
      if (position + chunk.byteLength > capacity) {
        throw errors.failed(
          `write past the end of the slot: ${chunk.byteLength} bytes at byte ${position}, capacity ${capacity}`,
        );
      }
      try {
        let done = 0;
        while (done < chunk.byteLength) {
          const { bytesWritten } = await handle.write(
            chunk,
            done,
            chunk.byteLength - done,
            position + done,
          );
          done += bytesWritten;
        }
      } catch (error) {
        throw errors.io(`write at byte ${position}`, error);
      }
      position += chunk.byteLength;
    },
    async sync() {
      invariant(!closed, 'sync after close');
      await handle.datasync().catch((error: unknown) => {
        throw errors.io('sync', error);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await handle.datasync();
      } catch (error) {
        throw errors.io('sync', error);
      } finally {
        await handle.close();
      }
    },
  };
}

type SlotErrors = ReturnType<typeof slotErrors>;

// slotErrors builds the errors of one slot, each naming it.
function slotErrors(name: SlotName, device: string) {
  const label = `slot ${name} (${device})`;
  const failed = (message: string, error?: unknown) =>
    new PendulumError('SLOT_WRITE_FAILED', `${label}: ${message}`, {
      context: { slot: name, errno: errnoCode(error) },
      cause: error,
    });
  return {
    label,
    failed,
    // io keeps errors that are already ours (a short read, a cancel) as they are.
    io: (operation: string, error: unknown) =>
      isPendulumError(error)
        ? error
        : failed(`${operation} failed: ${describeErrno(error)}`, error),
    active: (why: string) =>
      new PendulumError('SLOT_ACTIVE', `refusing to write ${label}: ${why}`, {
        context: { slot: name },
      }),
    cancelled: (signal: AbortSignal) =>
      new PendulumError('CANCELLED', `${label}: cancelled`, {
        context: { slot: name },
        cause: signal.reason,
      }),
  };
}

function describeErrno(error: unknown): string {
  const errno = errnoCode(error);
  if (errno === 'ENOSPC') return 'no space left on device';
  if (errno === 'EIO') return 'I/O error (EIO)';
  if (errno === 'ENOENT') return 'no such file or device';
  if (errno === 'EACCES' || errno === 'EPERM') return `permission denied (${errno})`;
  return errno ?? (error instanceof Error ? error.message : String(error));
}
