// A machine without the HIL suite's tools must get one message that names
// the Debian packages to install, before anything is built or booted.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { repoRoot } from './support/artifacts.js';
import { missingPrerequisites } from './support/prerequisites.js';

describe('missing HIL prerequisites', () => {
  test('names the Debian package of every missing command', () => {
    const missing = missingPrerequisites('x86_64', '/nonexistent');
    expect(missing).toContain('qemu-system-x86_64 (Debian package qemu-system-x86)');
    expect(missing).toContain('sgdisk (Debian package gdisk)');
    expect(missing).toContain('mcopy (Debian package mtools)');
    expect(missingPrerequisites('aarch64', '/nonexistent')).toContain(
      'fw_setenv (Debian package libubootenv-tool)',
    );
  });

  test('finds nothing missing on a machine prepared by scripts/install-hil-deps.sh', () => {
    expect(missingPrerequisites('x86_64')).toEqual([]);
    expect(missingPrerequisites('aarch64')).toEqual([]);
  });

  test('a disk script without its tool stops with the package to install', async () => {
    // bash and coreutils only: sgdisk (gdisk) is not on this PATH.
    const bin = await mkdtemp(join(tmpdir(), 'pendulum-hil-path-'));
    await execa('ln', ['-s', '/usr/bin/dirname', join(bin, 'dirname')]);
    const result = await execa(
      '/bin/bash',
      [join(repoRoot, 'qemu/x86_64/build-disk.sh'), '--out', join(bin, 'disk.img')],
      { env: { PATH: bin }, extendEnv: false, reject: false },
    );
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain("'sgdisk' is missing; install the Debian package 'gdisk'");
  });
});
