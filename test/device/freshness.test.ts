// The agent and the check-in freshness statement: a reply whose statement is
// replayed or missing changes nothing, and a device without a real-time clock
// takes the server's signed time as the floor of its own.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateSource } from '../../src/device/source/source.js';
import type { Signed } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { createFakeSource } from '../fakes/fake-source.js';
import { type BootedRig, makeBootedRig, runBootedRig, slotHolds } from '../support/agent-rig.js';
import { makeTempDir } from '../support/temp-dir.js';
import { freshnessFor, signImage } from '../support/vendor.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir('agent-freshness');
});
afterAll(async () => {
  await tmp.remove();
});

const hour = 3_600_000;

// withFreshness wraps a source so that each reply carries `statement(nonce)`
// instead of the honest one.
function withFreshness(
  source: UpdateSource,
  statement: (nonce: Uint8Array, offer: Parameters<typeof freshnessFor>[0]['offer']) => Signed,
): UpdateSource {
  return {
    ...source,
    async checkIn(status, signal) {
      const reply = await source.checkIn(status, signal);
      return { ...reply, freshness: statement(status.nonce, reply.offer) };
    },
  };
}

const rig = (name: string) => makeBootedRig(join(tmp.path, name));
const runWith = (r: BootedRig, source: UpdateSource, now?: () => number) =>
  runBootedRig(r, { source, ...(now === undefined ? {} : { now }) });

describe('agent: check-in freshness', () => {
  it('survives an indefinite freeze: a recorded reply replayed later is refused and changes nothing', async () => {
    const r = await rig('replayed');
    const recorded = new Uint8Array(32).fill(3);
    const source = withFreshness(r.source, (_nonce, offer) =>
      freshnessFor({ nonce: recorded, offer, time: new Date(Date.now() - 2 * hour) }),
    );
    const { result, before, after, journal } = await runWith(r, source);
    expect(result).toBe('idle');
    expect(r.source.downloadOffsets).toEqual([]);
    expect(r.source.reports).toEqual([]);
    expect(after).toEqual(before);
    expect(journal?.machine.name).toBe('idle');
    expect(await slotHolds(r, 'B', r.image)).toBe(false);
  });

  it('rejects a reply whose statement was signed by a key that is not a timestamp key', async () => {
    const r = await rig('wrong-role');
    const source = withFreshness(r.source, (nonce, offer) =>
      freshnessFor({ nonce, offer, key: r.releaseKey }),
    );
    const { result, before, after } = await runWith(r, source);
    expect(result).toBe('idle');
    expect(r.source.downloadOffsets).toEqual([]);
    expect(after).toEqual(before);
  });

  it('takes the server time as its clock floor when it has no real-time clock, and refuses an expired manifest by it', async () => {
    const r = await rig('no-rtc');
    // Expired an hour ago; a device that believes it is 1970 would take it.
    const manifest = signImage(r.image, [r.releaseKey], {
      classId: 'gw',
      version: '2.0.0',
      expiresAt: new Date(Date.now() - hour),
    });
    const source = createFakeSource('deployment-expired', manifest, r.image);
    const { result, before, after, journal } = await runWith(r, source, () => 0);
    expect(result).toBe('idle');
    expect(source.downloadOffsets).toEqual([]);
    expect(source.reports.map((report) => [report.state, report.errorCode])).toEqual([
      ['failed', 'EXPIRED'],
    ]);
    expect(after).toEqual(before);
    expect(journal?.clockFloor).toBeGreaterThan(Date.now() - hour);
  });

  it('keeps its clock floor across a restart: a statement from before it is expired', async () => {
    const r = await rig('floor-persists');
    const quiet: UpdateSource = {
      ...r.source,
      async checkIn(status) {
        return {
          offer: undefined,
          pollIntervalMs: 1000,
          trustRoots: [],
          freshness: freshnessFor({ nonce: status.nonce, offer: undefined }),
        };
      },
    };
    await runWith(r, quiet, () => 0);
    const floor = (await r.journal.load())?.clockFloor ?? 0;
    expect(floor).toBeGreaterThan(Date.now() - hour);
    // Restarted, still at 1970 by its own clock; the reply now says it is a day earlier.
    const stale = withFreshness(r.source, (nonce, offer) =>
      freshnessFor({ nonce, offer, time: new Date(floor - 24 * hour), ttlMs: hour }),
    );
    const { result, before, after } = await runWith(r, stale, () => 0);
    expect(result).toBe('idle');
    expect(r.source.downloadOffsets).toEqual([]);
    expect(r.source.reports).toEqual([]);
    expect(after).toEqual(before);
  });
});
