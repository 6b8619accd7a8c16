// agent.toml's [device] section: where the agent keeps what it persists.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/device/config.js';
import { makeTempDir } from '../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };
let count = 0;

beforeAll(async () => {
  tmp = await makeTempDir('agentcfg');
});
afterAll(async () => {
  await tmp.remove();
});

// load reads an agent.toml whose [device] section ends with `extra`.
async function load(extra: string) {
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
${extra}

[slots.A]
type = "raw"
device = "/dev/mmcblk0p2"

[slots.B]
type = "raw"
device = "/dev/mmcblk0p3"

[bootloader]
type = "efi"
entries = { A = "0001", B = "0002" }
`,
  );
  return (await loadAgentConfig(path)).device;
}

describe('agent config [device]', () => {
  it('keeps the anti-rollback floor in the state directory by default', async () => {
    expect((await load('')).rollback_floor_file).toBe(join(tmp.path, 'state', 'rollback-floor'));
  });

  it('keeps the anti-rollback floor where the manufacturer says, resolved against the config file', async () => {
    expect((await load('rollback_floor_file = "/factory/persist/floor"')).rollback_floor_file).toBe(
      '/factory/persist/floor',
    );
    expect((await load('rollback_floor_file = "persist/floor"')).rollback_floor_file).toBe(
      join(tmp.path, 'persist/floor'),
    );
  });
});
