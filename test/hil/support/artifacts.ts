// Everything a HIL run boots, built once per run under .hil/<arch>: the
// fetched kernel, firmware pieces and node runtime (cached across runs), the
// agent bundled from the current source, and the slot images the scenarios
// install.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import type { Arch } from './arch.js';

export const repoRoot = resolve(import.meta.dirname, '../../..');

// The slot images: the factory image, a good update, an update whose health
// check fails, and an update whose init dies at once.
export const imageKinds = ['factory', 'update', 'unhealthy', 'unbootable'] as const;
export type ImageKind = (typeof imageKinds)[number];

export const imageVersions: Record<ImageKind, string> = {
  factory: '1.0.0',
  update: '2.0.0',
  unhealthy: '2.0.1-unhealthy',
  unbootable: '2.0.2-unbootable',
};

export interface Artifacts {
  readonly arch: Arch;
  readonly dir: string;
  // Output of qemu/<arch>/fetch.sh.
  readonly fetched: string;
  readonly images: Record<ImageKind, string>;
}

async function run(command: string, args: readonly string[]): Promise<void> {
  const result = await execa(command, args, { cwd: repoRoot, reject: false, all: true });
  if (result.exitCode !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (exit ${result.exitCode}):\n${result.all}`,
    );
  }
}

// buildArtifacts fetches (once) and builds (every run) what `arch` boots.
export async function buildArtifacts(arch: Arch): Promise<Artifacts> {
  const dir = join(repoRoot, '.hil', arch);
  const fetched = join(dir, 'fetch');
  await mkdir(dir, { recursive: true });
  await run('bash', [join(repoRoot, 'qemu', arch, 'fetch.sh'), fetched]);
  const agent = join(dir, 'pendulum-agent.mjs');
  await run(process.execPath, [join(repoRoot, 'scripts/bundle-agent.mjs'), agent]);
  const images = Object.fromEntries(
    imageKinds.map((kind) => [kind, join(dir, `rootfs-${kind}.img`)]),
  ) as Record<ImageKind, string>;
  for (const kind of imageKinds) {
    await run('bash', [
      join(repoRoot, 'qemu/build-rootfs.sh'),
      '--sysroot',
      join(fetched, 'rootfs'),
      '--agent',
      agent,
      '--version',
      imageVersions[kind],
      '--out',
      images[kind],
      '--health',
      kind === 'unhealthy' ? 'fail' : 'ok',
      '--init',
      kind === 'unbootable' ? 'broken' : 'ok',
    ]);
  }
  return { arch, dir, fetched, images };
}
