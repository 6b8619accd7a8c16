// Fake external tools for tests: small sh scripts written into a directory
// that goes first on PATH, so adapter code runs unchanged.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeTools {
  readonly dir: string;
  // An environment with the fake tools first on PATH.
  readonly env: Record<string, string>;
  // add writes an executable `name` running `script` with /bin/sh.
  add(name: string, script: string): Promise<string>;
  // remove deletes the directory and every tool in it.
  remove(): Promise<void>;
}

// createFakeTools makes an empty directory of fake tools.
export async function createFakeTools(): Promise<FakeTools> {
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-tools-'));
  return {
    dir,
    env: { PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    async add(name, script) {
      const path = join(dir, name);
      await writeFile(path, `#!/bin/sh\n${script}\n`);
      await chmod(path, 0o755);
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
