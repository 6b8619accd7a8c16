// The stateful fake bootloader tools of test/fakes/tools — grub-editenv,
// fw_printenv, fw_setenv, efibootmgr — as commands in a directory to put first
// on PATH, so the backends run unchanged against them.
import { fileURLToPath } from 'node:url';
import { createFakeTools, type FakeTools } from './fake-tool.js';

const script = (name: string) => fileURLToPath(new URL(`./tools/${name}`, import.meta.url));

// createFakeBootTools writes the four commands into a new fake-tool directory.
export async function createFakeBootTools(): Promise<FakeTools> {
  const tools = await createFakeTools();
  const node = (file: string, ...args: string[]) =>
    `exec "${process.execPath}" "${script(file)}" ${args.join(' ')} "$@"`;
  await tools.add('grub-editenv', node('grub-editenv.mjs'));
  await tools.add('fw_printenv', node('fw-env.mjs', 'fw_printenv'));
  await tools.add('fw_setenv', node('fw-env.mjs', 'fw_setenv'));
  await tools.add('efibootmgr', node('efibootmgr.mjs'));
  return tools;
}
