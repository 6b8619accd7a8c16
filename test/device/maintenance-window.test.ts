// Maintenance windows on the device: outside the rollout's window the agent
// downloads and installs to the inactive slot, but neither arms the
// bootloader nor reboots; it says when the window opens, keeps checking in,
// and activates once the window is open on its trusted clock.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activation, waitMs } from '../../src/device/activation.js';
import type { DeploymentRecord } from '../../src/device/agent-state.js';
import { createFakeSource, type FakeSource } from '../fakes/fake-source.js';
import { type BootedRig, makeBootedRig, runBootedRig, slotHolds } from '../support/agent-rig.js';
import { makeTempDir } from '../support/temp-dir.js';

const hour = 3_600_000;
// A window opening at a whole UTC hour a day from now, for one hour: inside
// the trust root's and the manifest's validity, and ahead of the real clock
// so the freshness statements' time never pulls the device clock back.
const opens = new Date(Math.ceil((Date.now() + 24 * hour) / hour) * hour);
const window = {
  cron: `0 ${opens.getUTCHours()} * * *`,
  duration: { seconds: 3600n },
  timezone: 'UTC',
};

let dir: { path: string; remove: () => Promise<void> };
let rig: BootedRig;
let clock: number;
let source: FakeSource;

beforeEach(async () => {
  dir = await makeTempDir('window');
  rig = await makeBootedRig(join(dir.path, 'rig'), true, {
    expiresAt: new Date(opens.getTime() + 7 * 24 * hour),
  });
  clock = opens.getTime() - 2 * hour;
  source = createFakeSource('deployment-1', rig.manifest, rig.image, {
    activationWindow: window,
    now: () => new Date(clock),
  });
});
afterEach(async () => dir.remove());

const run = () => runBootedRig(rig, { source, now: () => clock });

describe('maintenance windows on the device', () => {
  it('installs outside the window but does not arm the bootloader or reboot, and says when it opens', async () => {
    const outside = await run();
    expect(outside.result).toBe('waiting');
    expect(outside.after).toEqual(outside.before);
    expect(outside.journal?.machine.name).toBe('arming');
    expect(await slotHolds(rig, 'B', rig.image)).toBe(true);
    const waiting = source.reports.filter((r) => r.state === 'installed' && r.message !== '');
    expect(waiting.map((r) => r.message)).toEqual([
      `waiting for the maintenance window; it opens at ${opens.toISOString()}`,
    ]);

    // An hour later, still outside: it checks in again, says nothing new.
    clock = opens.getTime() - hour;
    const checkIns = source.checkIns();
    const still = await run();
    expect(still.result).toBe('waiting');
    expect(still.after).toEqual(still.before);
    expect(source.checkIns()).toBeGreaterThan(checkIns);
    expect(source.reports.filter((r) => r.message.startsWith('waiting'))).toHaveLength(1);
    expect(source.downloadOffsets).toEqual([0]);

    // Inside the window: armed and rebooted into the new slot.
    clock = opens.getTime() + 10 * 60_000;
    const inside = await run();
    expect(inside.result).toBe('reboot');
    expect(inside.after.order[0]).toBe('B');
    expect(inside.journal?.machine.name).toBe('rebooting');
  });

  it('activates at once inside the window', async () => {
    clock = opens.getTime() + 59 * 60_000;
    const result = await run();
    expect(result.result).toBe('reboot');
    expect(source.reports.filter((r) => r.message.startsWith('waiting'))).toEqual([]);
  });

  it('refuses an offer whose window it cannot follow, downloading nothing', async () => {
    source = createFakeSource('deployment-1', rig.manifest, rig.image, {
      activationWindow: { ...window, cron: '61 * * * *' },
      now: () => new Date(clock),
    });
    const refused = await run();
    expect(refused.result).toBe('idle');
    expect(refused.after).toEqual(refused.before);
    expect(source.downloadOffsets).toEqual([]);
    expect(source.reports.at(-1)).toMatchObject({ state: 'failed', errorCode: 'MALFORMED' });
    expect(source.reports.at(-1)?.message).toContain('activation window');
  });
});

describe('activation', () => {
  const record = (extra: Partial<DeploymentRecord> = {}) =>
    ({
      window: { cron: '0 2 * * *', durationMs: 4 * hour, timezone: 'Europe/Berlin' },
      ...extra,
    }) as DeploymentRecord;

  it('is immediate without a window', () => {
    expect(activation(record({ window: undefined }), new Date())).toEqual({ now: true });
  });

  it('follows the window in its time zone', () => {
    // 02:00 in Berlin is 01:00 UTC in winter.
    expect(activation(record(), new Date('2026-01-10T00:59:00Z'))).toEqual({
      now: false,
      opensAt: new Date('2026-01-10T01:00:00Z'),
    });
    expect(activation(record(), new Date('2026-01-10T04:59:00Z'))).toEqual({ now: true });
    expect(activation(record(), new Date('2026-01-10T05:00:00Z'))).toEqual({
      now: false,
      opensAt: new Date('2026-01-11T01:00:00Z'),
    });
  });

  it('sleeps until the window opens, but never past one poll interval', () => {
    const now = new Date('2026-01-10T00:00:00Z');
    expect(waitMs(new Date('2026-01-10T00:00:30Z'), now, 300_000)).toBe(30_000);
    expect(waitMs(new Date('2026-01-10T05:00:00Z'), now, 300_000)).toBe(300_000);
    expect(waitMs(undefined, now, 300_000)).toBe(300_000);
    expect(waitMs(now, now, 300_000)).toBe(1000);
  });
});
