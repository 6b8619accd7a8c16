// Attacks on the payload bytes themselves, at the agent: a malicious mirror
// whose bytes a second, honest source finishes, and a slot rewritten after
// the stream was hashed (verify-then-use, RAUC CVE-2020-25860). Either way the
// agent arms nothing: what it boots is what it read back and verified.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRawSlot } from '../../src/device/slots/raw.js';
import type { Slot } from '../../src/device/slots/slot.js';
import type { UpdateSource } from '../../src/device/source/source.js';
import { PendulumError } from '../../src/errors.js';
import { type BootedRig, makeBootedRig, runBootedRig, slotHolds } from '../support/agent-rig.js';
import { makeTempDir } from '../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir('stream-attacks');
});
afterAll(async () => {
  await tmp.remove();
});

const rig = (name: string) => makeBootedRig(join(tmp.path, name));

// maliciousMirror serves the payload with one byte of each chunk flipped,
// then drops the connection after `chunks` chunks.
function maliciousMirror(honest: UpdateSource, chunks: number): UpdateSource {
  return {
    ...honest,
    async *download(deploymentId, payloadId, offset, signal) {
      let sent = 0;
      for await (const chunk of honest.download(deploymentId, payloadId, offset, signal)) {
        if (sent++ === chunks) throw new PendulumError('UNAVAILABLE', 'mirror went away');
        const data = new Uint8Array(chunk.data);
        data[0] = (data[0] ?? 0) ^ 0xff;
        yield { offset: chunk.offset, data };
      }
    },
  };
}

async function expectNothingArmed(r: BootedRig, run: Awaited<ReturnType<typeof runBootedRig>>) {
  expect(run.after).toEqual(run.before);
  expect(run.journal?.machine.name).toBe('idle');
  expect(run.journal?.committed).toEqual({ slot: 'A', version: '1.0.0', sequence: 1 });
  expect(await slotHolds(r, 'B', r.image)).toBe(false);
}

describe('payload attacks at the agent', () => {
  it('survives a malicious mirror: bytes a failed first source wrote are not trusted when an honest one finishes', async () => {
    const r = await rig('mirror');
    // 8 chunks of 256 KiB: past the rig's 1 MiB sync, so the agent resumes after them.
    const first = await runBootedRig(r, { source: maliciousMirror(r.source, 8) });
    expect(first.result).toBe('error');
    expect((await r.journal.load())?.machine.offset).toBeGreaterThan(0);

    const second = await runBootedRig(r);
    expect(second.result).toBe('idle');
    expect(Math.max(...r.source.downloadOffsets)).toBeGreaterThan(0);
    expect(r.source.reports.at(-1)).toMatchObject({
      state: 'failed',
      errorCode: 'DIGEST_MISMATCH',
    });
    await expectNothingArmed(r, { ...second, before: first.before });
  });

  it('survives a slot rewritten after the stream was hashed (verify-then-use TOCTOU): the read-back catches it before arming', async () => {
    const r = await rig('toctou');
    const honest = createRawSlot({ name: 'B', device: r.slots.B });
    const rewritten: Slot = {
      ...honest,
      capacity: () => honest.capacity(),
      read: (offset, length, signal) => honest.read(offset, length, signal),
      digest: (length, signal, onProgress) => honest.digest(length, signal, onProgress),
      async openWriter(offset, booted, signal) {
        const writer = await honest.openWriter(offset, booted, signal);
        return {
          get position() {
            return writer.position;
          },
          write: (chunk) => writer.write(chunk),
          sync: () => writer.sync(),
          async close() {
            await writer.close();
            // Someone else writes the slot once the agent's stream is done.
            const file = await open(r.slots.B, 'r+');
            await file.write(Buffer.from('evil'), 0, 4, 4096);
            await file.close();
          },
        };
      },
    };
    const run = await runBootedRig(r, { slotB: rewritten });
    expect(run.result).toBe('idle');
    expect(r.source.reports.at(-1)).toMatchObject({
      state: 'failed',
      errorCode: 'DIGEST_MISMATCH',
      message: expect.stringContaining('reads back'),
    });
    await expectNothingArmed(r, run);
  });
});
