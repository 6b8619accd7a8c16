// The anti-rollback floor from the command line: a publisher marks a release
// irreversible or gives it a floor, and an operator reads or restores a
// device's floor store with `pendulum agent floor`.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundle } from '../../src/bundle/bundle.js';
import { formatRollbackFloor } from '../../src/device/rollback-floor.js';
import {
  formatSecretKeyFile,
  formatSignedFile,
  generateKeyPair,
  verifyManifest,
  verifyPinnedTrustRoot,
} from '../../src/trust/index.js';
import { makeImage } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';
import { rootDocument } from '../support/vendor.js';
import { type CliResult, runCli } from './cli.js';

let dir: { path: string; remove: () => Promise<void> };
const at = (name: string) => join(dir.path, name);
const rootKey = generateKeyPair();
const releaseKey = generateKeyPair();
const root = rootDocument({
  version: 1,
  rootKeys: [rootKey],
  releaseKeys: [releaseKey],
  signers: [rootKey],
});

beforeAll(async () => {
  dir = await makeTempDir('cli-floor');
  await writeFile(at('release.key'), formatSecretKeyFile(releaseKey, 'release'), { mode: 0o600 });
  await writeFile(at('root.json'), formatSignedFile(root));
  await writeFile(at('rootfs.img'), makeImage('floor', { bytes: 64 * 1024 }));
  await writeFile(
    at('agent.toml'),
    `[server]
address = "127.0.0.1:1"

[device]
class_id = "acme-gateway"
state_dir = "state"
trust_root = "root.json"
rollback_floor_file = "persist/rollback-floor"

[slots.A]
type = "raw"
device = "slot-a.img"

[slots.B]
type = "raw"
device = "slot-b.img"

[bootloader]
type = "simulated"
env = "grubenv"
cmdline = "cmdline"
`,
  );
  await mkdir(at('persist'));
});
afterAll(async () => {
  await dir.remove();
});

function expectFailure(result: CliResult, code: string): string {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^pendulum: ${code}: `));
  return result.stderr;
}

// releaseCreate runs "release create" for sequence 5 with `extra` flags.
function releaseCreate(out: string, extra: readonly string[]) {
  return runCli([
    'release',
    'create',
    '--image',
    at('rootfs.img'),
    '--trust-root',
    at('root.json'),
    '--class',
    'acme-gateway',
    '--version',
    '5.0.0',
    '--sequence',
    '5',
    '--key',
    at('release.key'),
    '--out',
    at(out),
    ...extra,
  ]);
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('release create', () => {
  it('signs the irreversible flag and the rollback floor into the manifest', async () => {
    const result = await releaseCreate('irreversible.pbundle', [
      '--irreversible',
      '--rollback-floor',
      '3',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      'irreversible: devices that commit it refuse any sequence below 5',
    );
    const bundle = await openBundle(at('irreversible.pbundle'));
    const manifest = verifyManifest(bundle.signed, verifyPinnedTrustRoot(root), {
      now: new Date(),
      classId: 'acme-gateway',
      aboveSequence: 1,
      floor: 1,
      maxComponentBytes: 1 << 20,
    });
    expect(manifest).toMatchObject({ sequence: 5, irreversible: true, rollbackFloor: 3 });
  });

  it('makes a release that raises nothing by default', async () => {
    const result = await releaseCreate('plain.pbundle', []);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('refuse any sequence');
    const { manifest } = await openBundle(at('plain.pbundle'));
    expect(manifest.flags).toEqual([]);
    expect(manifest.rollbackFloor).toBe(0n);
  });

  it('refuses a rollback floor above the sequence, writing nothing', async () => {
    const stderr = expectFailure(
      await releaseCreate('too-high.pbundle', ['--rollback-floor', '6']),
      'INVALID_ARGUMENT',
    );
    expect(stderr).toContain('--rollback-floor 6 is above --sequence 5');
    expect(await exists(at('too-high.pbundle'))).toBe(false);
  });

  it('refuses a rollback floor that is not a whole number', async () => {
    const stderr = expectFailure(
      await releaseCreate('not-a-number.pbundle', ['--rollback-floor', '-1']),
      'INVALID_ARGUMENT',
    );
    expect(stderr).toContain('--rollback-floor must be a whole number');
  });
});

describe('agent floor', () => {
  const store = () => at('persist/rollback-floor');
  const floor = (...args: string[]) =>
    runCli(['agent', 'floor', ...args, '--config', at('agent.toml')]);

  it('reports a missing store as STATE_CORRUPT, saying how to restore it', async () => {
    const stderr = expectFailure(await floor('show'), 'STATE_CORRUPT');
    expect(stderr).toContain(`anti-rollback floor store ${store()} is missing`);
    expect(stderr).toContain('pendulum agent floor set <sequence>');
  });

  it('restores a missing store and shows it', async () => {
    expect((await floor('set', '5')).stdout).toBe(
      `anti-rollback floor restored to 5 (${store()})\n`,
    );
    expect((await floor('show')).stdout).toBe(`anti-rollback floor 5 (${store()})\n`);
    expect(await readFile(store(), 'utf8')).toBe(formatRollbackFloor(5));
  });

  it('raises an intact floor', async () => {
    expect((await floor('set', '7')).stdout).toBe(`anti-rollback floor 5 -> 7 (${store()})\n`);
  });

  it('refuses to lower an intact floor without --force, leaving it as it was', async () => {
    const stderr = expectFailure(await floor('set', '3'), 'FAILED_PRECONDITION');
    expect(stderr).toContain('refusing to lower the anti-rollback floor from 7 to 3');
    expect(await readFile(store(), 'utf8')).toBe(formatRollbackFloor(7));
  });

  it('lowers an intact floor with --force', async () => {
    expect((await floor('set', '3', '--force')).stdout).toBe(
      `anti-rollback floor 7 -> 3 (${store()})\n`,
    );
    expect(await readFile(store(), 'utf8')).toBe(formatRollbackFloor(3));
  });

  it('restores a corrupt store without --force', async () => {
    await writeFile(store(), formatRollbackFloor(9).replace(' 9 ', ' 2 '));
    expectFailure(await floor('show'), 'STATE_CORRUPT');
    expect((await floor('set', '4')).stdout).toBe(
      `anti-rollback floor restored to 4 (${store()})\n`,
    );
    expect((await floor('show')).stdout).toBe(`anti-rollback floor 4 (${store()})\n`);
  });

  it('refuses a floor that is not a whole number', async () => {
    expectFailure(await floor('set', 'five'), 'INVALID_ARGUMENT');
    expect(await readFile(store(), 'utf8')).toBe(formatRollbackFloor(4));
  });
});
