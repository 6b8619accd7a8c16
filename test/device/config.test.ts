// agent.toml's [server], [device] and [download] sections: whether the agent
// watches for pushes, where it keeps what it persists, and the download
// limits (slow retrieval) refused before the agent starts when they would
// defend nothing.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configRefusal, loadAgentToml } from '../support/agent-config.js';
import { makeTempDir } from '../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  tmp = await makeTempDir('agentcfg');
});
afterAll(async () => {
  await tmp.remove();
});

const device = async (extra: string) => (await loadAgentToml(tmp.path, { device: extra })).device;
const download = async (section: string) =>
  (await loadAgentToml(tmp.path, { download: section })).download;

const server = async (extra: string) => (await loadAgentToml(tmp.path, { server: extra })).server;

describe('agent config [server]', () => {
  it('watches for pushes by default, reconnecting no sooner than a second', async () => {
    expect(await server('')).toMatchObject({ watch: true, watch_min_interval: 1_000 });
  });

  it('polls only with watch = false', async () => {
    expect((await server('watch = false')).watch).toBe(false);
  });

  it('refuses a minimum Watch interval of zero, which would allow a tight loop', async () => {
    expect(
      await configRefusal(loadAgentToml(tmp.path, { server: 'watch_min_interval = "0s"' })),
    ).toContain('"server.watch_min_interval": expected a duration above 0');
  });
});

describe('agent config [device]', () => {
  it('keeps the anti-rollback floor in the state directory by default', async () => {
    expect((await device('')).rollback_floor_file).toBe(join(tmp.path, 'state', 'rollback-floor'));
  });

  it('keeps the anti-rollback floor where the manufacturer says, resolved against the config file', async () => {
    expect(
      (await device('rollback_floor_file = "/factory/persist/floor"')).rollback_floor_file,
    ).toBe('/factory/persist/floor');
    expect((await device('rollback_floor_file = "persist/floor"')).rollback_floor_file).toBe(
      join(tmp.path, 'persist/floor'),
    );
  });
});

describe('agent config [download]', () => {
  it('defends against slow retrieval by default: 1 KiB/s over 5 min windows, 6 h per attempt', async () => {
    expect(await download('')).toEqual({
      sync_every: 8 * 1024 * 1024,
      progress_every: 2_000,
      idle_timeout: 60_000,
      min_rate: 1024,
      min_rate_window: 300_000,
      deadline: 6 * 3_600_000,
    });
  });

  it('reads the minimum rate as a size and its window and deadline as durations', async () => {
    expect(
      await download('min_rate = "16KiB"\nmin_rate_window = "30s"\ndeadline = "12h"'),
    ).toMatchObject({ min_rate: 16 * 1024, min_rate_window: 30_000, deadline: 12 * 3_600_000 });
  });

  it.each([
    ['a minimum rate that is not a size', 'min_rate = "fast"', '"download.min_rate"'],
    [
      'a window of zero',
      'min_rate_window = "0s"',
      '"download.min_rate_window": expected a duration above 0',
    ],
    ['a deadline of zero', 'deadline = 0', '"download.deadline": expected a duration above 0'],
    // A Node timer above 2^31 - 1 ms fires at once: every download would fail.
    ['a deadline beyond what a timer can wait', 'deadline = "30d"', 'at most 24 days'],
  ])('refuses %s', async (_, section, reason) => {
    expect(await configRefusal(download(section))).toContain(reason);
  });
});
