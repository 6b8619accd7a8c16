// The quick start, typed as a person would type it: a real `pendulum server`
// process, keys, a trust root, a signed release published and rolled out —
// every step through the built CLI.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImage, sha256Hex } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';
import { type CliServer, runCli, runOk, startCliServer } from './cli.js';

let dir: { path: string; remove: () => Promise<void> };
let server: CliServer | undefined;
const at = (name: string) => join(dir.path, name);
const image = makeImage('1.1.0', { bytes: 2 * 1024 * 1024 + 5 });

beforeAll(async () => {
  dir = await makeTempDir('cli-workflow');
  await writeFile(at('rootfs-1.1.0.img'), image);
});
afterAll(async () => {
  await server?.stop();
  await dir.remove();
});

// connection is the flags every server command takes.
const connection = (token: string | undefined) => [
  '--server',
  server?.address ?? '',
  '--token',
  token ?? '',
];

describe('quick start', () => {
  let adminToken: string | undefined;
  let releaseId = '';

  it('starts a server that prints its admin token once and where it listens', async () => {
    server = await startCliServer(at('data'));
    adminToken = server.adminToken;
    expect(adminToken).toMatch(/\S{20,}/);
    expect(server.banner.join('\n')).toContain(`export PENDULUM_TOKEN=${adminToken}`);
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.banner.join('\n')).toContain(
      `list it in the trust root: pendulum trust init --timestamp-key ${at('data/timestamp.pub')}`,
    );
  });

  it('makes a root key and a release key', async () => {
    const [root, release] = await Promise.all([
      runOk(['keygen', '--out', at('keys/root-1')]),
      runOk(['keygen', '--out', at('keys/release-1')]),
    ]);
    expect(root).toMatch(/^key [0-9a-f]{64}$/m);
    expect(release).toContain(at('keys/release-1.key'));
  });

  it('makes a trust root and shows it', async () => {
    const init = await runOk([
      'trust',
      'init',
      '--vendor',
      'acme',
      '--root-key',
      at('keys/root-1.key'),
      '--release-key',
      at('keys/release-1.pub'),
      // The server made its timestamp key on its first start.
      '--timestamp-key',
      at('data/timestamp.pub'),
      '--out',
      at('root.json'),
    ]);
    expect(init).toContain(`wrote ${at('root.json')}`);
    const shown = await runOk(['trust', 'show', at('root.json')]);
    expect(shown).toContain('trust root v1 for vendor "acme"');
    expect(shown).toContain('root keys (1 of 1)');
    expect(shown).toMatch(/release keys \(1 of 1\):\n\s+[0-9a-f]{64}\s+release-1/);
  });

  it('installs the trust root on the server', async () => {
    expect(await runOk(['trust', 'push', at('root.json'), ...connection(adminToken)])).toContain(
      'server trusts root v1',
    );
  });

  it('builds a signed release bundle', async () => {
    const created = await runOk([
      'release',
      'create',
      '--image',
      at('rootfs-1.1.0.img'),
      '--trust-root',
      at('root.json'),
      '--class',
      'acme-gateway',
      '--version',
      '1.1.0',
      '--sequence',
      '2',
      '--key',
      at('keys/release-1.key'),
      '--out',
      at('release-1.1.0.pbundle'),
    ]);
    releaseId = /release ([0-9a-f]{64})/.exec(created)?.[1] ?? '';
    expect(releaseId).not.toBe('');
    expect(created).toContain(`sha256 ${sha256Hex(image)}`);
    expect(created).toContain('signed by 1 of 1 required release keys');
  });

  it('publishes the bundle, and publishing it again changes nothing', async () => {
    const published = await runOk([
      'release',
      'publish',
      at('release-1.1.0.pbundle'),
      ...connection(adminToken),
    ]);
    expect(published).toContain(`uploaded rootfs: ${image.length} bytes`);
    expect(published).toContain('published acme-gateway 1.1.0 (sequence 2)');
    expect(published).toContain(`release ${releaseId}`);
    const again = await runOk([
      'release',
      'publish',
      at('release-1.1.0.pbundle'),
      ...connection(adminToken),
    ]);
    expect(again).toContain('(already on the server)');
    expect(again).toContain(`release ${releaseId}`);
  });

  it('lists the release', async () => {
    const listed = await runOk(['release', 'list', ...connection(adminToken)]);
    expect(listed.trim().split('\n')).toEqual([
      `${releaseId.slice(0, 16)}  acme-gateway  1.1.0  sequence 2  ${image.length} bytes`,
    ]);
  });

  it('rolls the release out by version and by id prefix, and lists both rollouts', async () => {
    const byVersion = await runOk([
      'rollout',
      'create',
      '--release',
      '1.1.0',
      ...connection(adminToken),
    ]);
    expect(byVersion).toMatch(/^rollout \S+: 1\.1\.0 \(sequence 2\)$/m);
    expect(byVersion).toContain('  to every "acme-gateway" device\n  phases: 100 %\n');
    const byPrefix = await runOk([
      'rollout',
      'create',
      '--release',
      releaseId.slice(0, 12),
      ...connection(adminToken),
    ]);
    expect(byPrefix).toContain('1.1.0 (sequence 2)');

    const listed = (await runOk(['rollout', 'list', ...connection(adminToken)])).trim().split('\n');
    expect(listed).toHaveLength(2);
    for (const line of listed)
      expect(line).toMatch(/\s+acme-gateway\s+1\.1\.0\s+active\s+phase 1\/1$/);
  });

  it('rolls out in phases to a selection with a failure limit and a window, then pauses, resumes and aborts it', async () => {
    const created = await runOk([
      'rollout',
      'create',
      '--release',
      '1.1.0',
      '--phase',
      '5:2h',
      '--phase',
      '25:1d',
      '--phase',
      '100',
      '--tag',
      'eu',
      '--group',
      'beta',
      '--max-failure-ratio',
      '0.05',
      '--min-finished',
      '20',
      '--window',
      '0 2 * * *',
      '--window-duration',
      '4h',
      '--timezone',
      'Europe/Berlin',
      '--health-watch',
      '1d',
      '--max-unhealthy-ratio',
      '0.1',
      '--min-watched',
      '10',
      ...connection(adminToken),
    ]);
    expect(created).toContain(
      '  watches devices 1d after commit; pauses itself at more than 10 % unhealthy (over 3 agent restarts, a failed periodic check or lost contact)\n',
    );
    expect(created).toContain('  to every "acme-gateway" device, tagged eu, in group beta\n');
    expect(created).toContain('  phases: 5 % (soak 2h) → 25 % (soak 1d) → 100 %\n');
    expect(created).toContain('  pauses itself above 5 % failed (once 20 finished)\n');
    expect(created).toContain(
      '  activates only in the window "0 2 * * *" (Europe/Berlin) for 4h\n',
    );
    const id = /^rollout (\S+):/m.exec(created)?.[1] ?? '';
    expect(await runOk(['rollout', 'pause', id, ...connection(adminToken)])).toBe(
      `rollout ${id}: paused\n`,
    );
    expect(await runOk(['rollout', 'resume', id, ...connection(adminToken)])).toBe(
      `rollout ${id}: active\n`,
    );
    expect(await runOk(['rollout', 'abort', id, ...connection(adminToken)])).toBe(
      `rollout ${id}: aborted\n`,
    );
    const again = await runCli(['rollout', 'resume', id, ...connection(adminToken)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('FAILED_PRECONDITION');
    const listed = await runOk(['rollout', 'list', ...connection(adminToken)]);
    expect(listed).toContain(`${id}  acme-gateway  1.1.0  aborted  phase 1/3`);

    // Aborted, the live view draws once and ends.
    const status = await runOk(['rollout', 'status', id, '--watch', ...connection(adminToken)]);
    expect(status).toMatch(
      new RegExp(`^rollout ${id}  1\\.1\\.0 \\(sequence 2\\)  aborted  phase 1/3`, 'm'),
    );
    expect(status).toContain('selected 0 devices; 0 committed');
    expect(status).toMatch(
      /^phase\s+share\s+open\s+devices\s+pending\s+downloading\s+installed\s+committed\s+failed\s+rolled back$/m,
    );
    expect(status).toMatch(/^1\s+5 %\s+yes\s+0\s+0\s+0\s+0\s+0\s+0\s+0$/m);
    expect(status).toMatch(/^3\s+100 %\s+no\s+0/m);
    expect(status).toContain('failures: none');

    const audit = await runOk(['audit', '--subject', id, ...connection(adminToken)]);
    expect(
      audit
        .trim()
        .split('\n')
        .map((line) => line.split('  ')[3]),
    ).toEqual(['rollout.abort', 'rollout.resume', 'rollout.pause', 'rollout.create']);
    const json = await runOk([
      'audit',
      '--subject',
      id,
      '--limit',
      '1',
      '--json',
      ...connection(adminToken),
    ]);
    expect(JSON.parse(json)).toMatchObject({
      actor: 'token:admin',
      action: 'rollout.abort',
      subject: id,
    });
  });

  it('refuses a phase it cannot read, and a plan the server cannot follow, creating nothing', async () => {
    const before = await runOk(['rollout', 'list', ...connection(adminToken)]);
    const unreadable = await runCli([
      'rollout',
      'create',
      '--release',
      '1.1.0',
      '--phase',
      '5:soon',
      ...connection(adminToken),
    ]);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toContain('--phase: "soon" in "5:soon" is not a duration');
    const unfinished = await runCli([
      'rollout',
      'create',
      '--release',
      '1.1.0',
      '--phase',
      '50',
      ...connection(adminToken),
    ]);
    expect(unfinished.code).toBe(1);
    expect(unfinished.stderr).toContain('it must reach 100 %');
    expect(await runOk(['rollout', 'list', ...connection(adminToken)])).toBe(before);
  });

  it('says which release an unknown version does not match', async () => {
    const result = await runCli([
      'rollout',
      'create',
      '--release',
      '9.9.9',
      ...connection(adminToken),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('pendulum: NOT_FOUND: no release matches "9.9.9"');
  });

  it('lists no devices yet', async () => {
    expect(await runOk(['devices', ...connection(adminToken)])).toBe('no devices\n');
  });

  it('labels a device with tags and groups for rollout selectors, and refuses a bad label', async () => {
    const key = /^key ([0-9a-f]{64})$/m.exec(
      await runOk(['keygen', '--out', at('keys/device-1')]),
    )?.[1];
    await runOk([
      'devices',
      'preauthorize',
      '--key',
      at('keys/device-1.pub'),
      '--class',
      'acme-gateway',
      ...connection(adminToken),
    ]);
    const labelled = await runOk([
      'devices',
      'label',
      key ?? '',
      '--tag',
      'eu',
      '--tag',
      'lab',
      '--group',
      'beta',
      ...connection(adminToken),
    ]);
    expect(labelled).toContain('    tags eu,lab  groups beta\n');
    const bad = await runCli([
      'devices',
      'label',
      key ?? '',
      '--tag',
      'no spaces',
      ...connection(adminToken),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('INVALID_ARGUMENT');
    expect(await runOk(['devices', ...connection(adminToken)])).toContain(
      'tags eu,lab  groups beta',
    );
  });

  it('makes a publisher token on the server host that works while the server runs', async () => {
    const token = (
      await runOk(['token', 'create', '--name', 'ci', '--data-dir', at('data')])
    ).trim();
    expect(token).toMatch(/^\S{20,}$/);
    // Read from the environment, as CI would set it.
    const listed = await runOk(['release', 'list'], {
      env: { PENDULUM_TOKEN: token, PENDULUM_SERVER: server?.address ?? '' },
    });
    expect(listed).toContain('1.1.0');
    // A publisher may publish, not change what is trusted.
    const push = await runCli(['trust', 'push', at('root.json'), ...connection(token)]);
    expect(push.code).toBe(1);
    expect(push.stderr).toMatch(/^pendulum: PERMISSION_DENIED: /);
  });

  it('prints no admin token when restarted on the same data directory, and keeps the old one', async () => {
    expect(await server?.stop()).toBe(0);
    server = await startCliServer(at('data'));
    expect(server.adminToken).toBeUndefined();
    expect(server.banner.join('\n')).not.toContain('admin token');
    expect(await runOk(['release', 'list', ...connection(adminToken)])).toContain('1.1.0');
  });
});

describe('simulated bootloader', () => {
  it('boots slot A from a factory-fresh environment, or B when told B is running', async () => {
    const files = (slot: string) => [
      '--env',
      at(`grubenv-${slot}`),
      '--cmdline',
      at(`cmd-${slot}`),
    ];
    const [a, b] = await Promise.all([
      runOk(['sim', 'init', ...files('a')]),
      runOk(['sim', 'init', ...files('b'), '--booted', 'B']),
    ]);
    expect(a).toContain('slot A booted');
    expect(b).toContain('slot B booted');
    const [bootA, bootB] = await Promise.all([
      runOk(['sim', 'boot', ...files('a')]),
      runOk(['sim', 'boot', ...files('b')]),
    ]);
    expect(bootA).toBe('booted slot A\n');
    expect(bootB).toBe('booted slot B\n');
  });
});
