// agent.toml files for config tests: a valid minimal config in a temp
// directory, with the sections a test is about replaced or extended.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type AgentConfig, loadAgentConfig } from '../../src/device/config.js';
import { isPendulumError } from '../../src/errors.js';

export interface AgentTomlParts {
  // Lines appended to [server].
  readonly server?: string;
  // Lines appended to [device].
  readonly device?: string;
  // The [bootloader] section (default: GRUB with a relative grubenv).
  readonly bootloader?: string;
  // The [download] section (default: none).
  readonly download?: string;
}

let count = 0;

// loadAgentToml writes an agent.toml into `dir` and loads it.
export async function loadAgentToml(dir: string, parts: AgentTomlParts): Promise<AgentConfig> {
  count += 1;
  const path = join(dir, `agent-${count}.toml`);
  await writeFile(
    path,
    `[server]
address = "127.0.0.1:7443"
${parts.server ?? ''}

[device]
class_id = "gw"
state_dir = "state"
trust_root = "root.json"
${parts.device ?? ''}

[slots.A]
type = "raw"
device = "/dev/mmcblk0p2"

[slots.B]
type = "raw"
device = "/dev/mmcblk0p3"

[bootloader]
${parts.bootloader ?? 'type = "grub"\nenv = "grubenv"'}
${parts.download === undefined ? '' : `\n[download]\n${parts.download}`}
`,
  );
  return loadAgentConfig(path);
}

// configRefusal expects loading to fail CONFIG_INVALID and returns the message.
export async function configRefusal(loading: Promise<unknown>): Promise<string> {
  const error = await loading.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isPendulumError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
  return (error as Error).message;
}
