// The [download] section of agent.toml: its defaults, the size and duration
// syntax, and the slow-retrieval limits that would defend nothing refused
// before the agent starts.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/device/config.js';
import { isPendulumError } from '../../src/errors.js';
import { makeTempDir } from '../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };
let count = 0;

beforeAll(async () => {
  tmp = await makeTempDir('agentcfg');
});
afterAll(async () => {
  await tmp.remove();
});

// load reads an agent.toml whose [download] section is `section`.
async function load(section: string) {
  count += 1;
  const path = join(tmp.path, `agent-${count}.toml`);
  await writeFile(
    path,
    `[server]
address = "127.0.0.1:7443"

[device]
class_id = "gw"
state_dir = "state"
trust_root = "root.json"

[slots.A]
type = "raw"
device = "/dev/mmcblk0p2"

[slots.B]
type = "raw"
device = "/dev/mmcblk0p3"

[bootloader]
type = "grub"
env = "grubenv"

[download]
${section}
`,
  );
  return (await loadAgentConfig(path)).download;
}

async function refusal(section: string): Promise<string> {
  const error = await load(section).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isPendulumError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
  return (error as Error).message;
}

describe('agent config [download]', () => {
  it('defends against slow retrieval by default: 1 KiB/s over 5 min windows, 6 h per attempt', async () => {
    expect(await load('')).toEqual({
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
      await load('min_rate = "16KiB"\nmin_rate_window = "30s"\ndeadline = "12h"'),
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
    expect(await refusal(section)).toContain(reason);
  });
});
