// When a command fails, it says which file or field is wrong, with a closed
// error code, and exits 1 — and it never leaves a half-written result behind.
import { access, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatPublicKeyFile,
  formatSecretKeyFile,
  formatSignedFile,
  generateKeyPair,
  type KeyPair,
} from '../../src/trust/index.js';
import { makeImage } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';
import { rootDocument } from '../support/vendor.js';
import { type CliResult, runCli } from './cli.js';

let dir: { path: string; remove: () => Promise<void> };
const at = (name: string) => join(dir.path, name);

const rootKey = generateKeyPair();
const releaseKey = generateKeyPair();
const strangerKey = generateKeyPair();

async function writeKeys(name: string, pair: KeyPair): Promise<void> {
  await writeFile(at(`${name}.key`), formatSecretKeyFile(pair, name), { mode: 0o600 });
  await writeFile(
    at(`${name}.pub`),
    formatPublicKeyFile({ keyId: pair.keyId, publicKey: pair.publicKey, label: name }),
  );
}

beforeAll(async () => {
  dir = await makeTempDir('cli-errors');
  await writeKeys('root', rootKey);
  await writeKeys('release', releaseKey);
  await writeKeys('stranger', strangerKey);
  await writeKeys('timestamp', generateKeyPair());
  const root = rootDocument({
    version: 1,
    rootKeys: [rootKey],
    releaseKeys: [releaseKey],
    signers: [rootKey],
  });
  await writeFile(at('root.json'), formatSignedFile(root));
  await writeFile(at('rootfs.img'), makeImage('errors', { bytes: 64 * 1024 }));
});
afterAll(async () => {
  await dir.remove();
});

// expectFailure checks the one shape every failure has: exit 1, one "pendulum: CODE: …" line.
function expectFailure(result: CliResult, code: string): string {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^pendulum: ${code}: `));
  return result.stderr;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

// releaseCreate runs "release create" with good arguments, some replaced.
function releaseCreate(overrides: Record<string, string>, out: string) {
  const options: Record<string, string> = {
    '--image': at('rootfs.img'),
    '--trust-root': at('root.json'),
    '--class': 'acme-gateway',
    '--version': '1.1.0',
    '--sequence': '2',
    '--key': at('release.key'),
    '--out': at(out),
    ...overrides,
  };
  return runCli(['release', 'create', ...Object.entries(options).flat()]);
}

// agentConfig writes an agent.toml.
async function agentConfig(name: string, text: string): Promise<string> {
  const path = at(name);
  await writeFile(path, text);
  return path;
}

const validAgent = (deviceExtra = '', more = '') => `
[server]
address = "127.0.0.1:1"

[device]
class_id = "acme-gateway"
state_dir = "state"
trust_root = "root.json"
${deviceExtra}

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
${more}
`;

describe.concurrent('trust init', () => {
  it('names a root key file that does not exist', async () => {
    const missing = at('no-such-root.key');
    const stderr = expectFailure(
      await runCli([
        'trust',
        'init',
        '--vendor',
        'acme',
        '--root-key',
        missing,
        '--release-key',
        at('release.pub'),
        '--timestamp-key',
        at('timestamp.pub'),
        '--out',
        at('never.json'),
      ]),
      'NOT_FOUND',
    );
    expect(stderr).toContain(missing);
    expect(await exists(at('never.json'))).toBe(false);
  });

  it('names the file and the field when a secret key file carries another public key', async () => {
    const doc = JSON.parse(await readFile(at('root.key'), 'utf8')) as Record<string, string>;
    const swapped = at('swapped.key');
    await writeFile(
      swapped,
      JSON.stringify({ ...doc, public_key: Buffer.from(strangerKey.publicKey).toString('base64') }),
    );
    const stderr = expectFailure(
      await runCli([
        'trust',
        'init',
        '--vendor',
        'acme',
        '--root-key',
        swapped,
        '--release-key',
        at('release.pub'),
        '--timestamp-key',
        at('timestamp.pub'),
        '--out',
        at('never-swapped.json'),
      ]),
      'MALFORMED',
    );
    expect(stderr).toContain(swapped);
    expect(stderr).toContain('public_key');
  });

  it('refuses an expiry in the past without leaving a root file behind', async () => {
    const out = at('expired-root.json');
    const result = await runCli([
      'trust',
      'init',
      '--vendor',
      'acme',
      '--root-key',
      at('root.key'),
      '--release-key',
      at('release.pub'),
      '--expires',
      '2020-01-01',
      '--timestamp-key',
      at('timestamp.pub'),
      '--out',
      out,
    ]);
    expect(expectFailure(result, 'EXPIRED')).toContain('2020-01-01');
    expect(result.stdout).toBe('');
    expect(await exists(out)).toBe(false);
  });
});

describe.concurrent('release create', () => {
  it('names --sequence when it is zero', async () => {
    const result = await releaseCreate({ '--sequence': '0' }, 'seq-zero.pbundle');
    expect(expectFailure(result, 'INVALID_ARGUMENT')).toContain('--sequence');
    expect(await exists(at('seq-zero.pbundle'))).toBe(false);
  });

  it('names --sequence when it is not a number', async () => {
    const result = await releaseCreate({ '--sequence': 'abc' }, 'seq-abc.pbundle');
    const stderr = expectFailure(result, 'INVALID_ARGUMENT');
    expect(stderr).toContain('--sequence');
    expect(stderr).toContain('"abc"');
  });

  it('refuses a release key the trust root does not name, naming the key file', async () => {
    const result = await releaseCreate({ '--key': at('stranger.key') }, 'stranger.pbundle');
    expect(expectFailure(result, 'UNTRUSTED_KEY')).toContain(at('stranger.key'));
    expect(await exists(at('stranger.pbundle'))).toBe(false);
  });

  it('names the key file when given a public key where a secret key belongs', async () => {
    const result = await releaseCreate({ '--key': at('release.pub') }, 'public.pbundle');
    const stderr = expectFailure(result, 'MALFORMED');
    expect(stderr).toContain(at('release.pub'));
    expect(stderr).toContain('type');
  });

  it('names an image that does not exist', async () => {
    const missing = at('no-such-image.img');
    const result = await releaseCreate({ '--image': missing }, 'no-image.pbundle');
    expect(expectFailure(result, 'NOT_FOUND')).toContain(missing);
    expect(await exists(at('no-image.pbundle'))).toBe(false);
  });

  it('names a trust root file that is not one', async () => {
    const notRoot = at('not-a-root.json');
    await writeFile(notRoot, '{"hello": "world"}');
    const result = await releaseCreate({ '--trust-root': notRoot }, 'bad-root.pbundle');
    expect(expectFailure(result, 'MALFORMED')).toContain(notRoot);
  });
});

describe.concurrent('release publish', () => {
  it('names a file that is not a bundle, before contacting any server', async () => {
    const notBundle = at('rootfs.img');
    const stderr = expectFailure(
      await runCli(['release', 'publish', notBundle, '--token', 'x', '--server', '127.0.0.1:1']),
      'MALFORMED',
    );
    expect(stderr).toContain(notBundle);
    expect(stderr).toContain('not a pendulum bundle');
  });
});

describe.concurrent('agent --config', () => {
  it('names the file and the line of a TOML syntax error', async () => {
    const path = await agentConfig('syntax.toml', '[server\naddress = "x"\n');
    const stderr = expectFailure(await runCli(['agent', '--config', path]), 'CONFIG_INVALID');
    expect(stderr).toContain(path);
    expect(stderr).toContain('not valid TOML');
    expect(stderr).toContain('line 1');
  });

  it('names the file and the dotted path of an unknown field', async () => {
    const path = await agentConfig('unknown.toml', validAgent('serial_number = "x"'));
    const stderr = expectFailure(await runCli(['agent', '--config', path]), 'CONFIG_INVALID');
    expect(stderr).toContain(path);
    expect(stderr).toContain('"device.serial_number"');
  });

  it('names the file and the dotted path of a field of the wrong type', async () => {
    const path = await agentConfig('type.toml', validAgent('factory_sequence = "seven"'));
    const stderr = expectFailure(await runCli(['agent', '--config', path]), 'CONFIG_INVALID');
    expect(stderr).toContain(path);
    expect(stderr).toContain('"device.factory_sequence"');
  });

  it('says what a duration looks like when one is given as something else', async () => {
    const path = await agentConfig('duration.toml', validAgent('', '[poll]\ninterval = true'));
    const stderr = expectFailure(await runCli(['agent', '--config', path]), 'CONFIG_INVALID');
    expect(stderr).toContain('"poll.interval"');
    expect(stderr).toContain('duration');
  });

  it('names a config file that does not exist', async () => {
    const path = at('no-such-agent.toml');
    expect(expectFailure(await runCli(['agent', '--config', path]), 'CONFIG_INVALID')).toContain(
      path,
    );
  });
});

describe.concurrent('server --config', () => {
  it('names the file and the field of an unknown setting, and does not start', async () => {
    const path = at('server.toml');
    await writeFile(path, `data_dir = "${at('server-data')}"\nlisten_port = 7443\n`);
    const stderr = expectFailure(await runCli(['server', '--config', path]), 'CONFIG_INVALID');
    expect(stderr).toContain(path);
    expect(stderr).toContain('"listen_port"');
    expect(await exists(at('server-data'))).toBe(false);
  });

  it('names the database field of a URL it cannot serve from, without its password', async () => {
    const stderr = expectFailure(
      await runCli([
        'server',
        '--data-dir',
        at('mysql-data'),
        '--database',
        'mysql://root:hunter2@127.0.0.1/fleet',
      ]),
      'CONFIG_INVALID',
    );
    expect(stderr).toContain('"database"');
    expect(stderr).toContain('"mysql:"');
    expect(stderr).not.toContain('hunter2');
    expect(await exists(at('mysql-data'))).toBe(false);
  });
});

describe.concurrent('token create', () => {
  it('refuses a data directory that holds no server database, and creates none', async () => {
    const typo = at('pendulum-dat');
    const stderr = expectFailure(
      await runCli(['token', 'create', '--name', 'ci', '--data-dir', typo]),
      'NOT_FOUND',
    );
    expect(stderr).toContain(typo);
    expect(stderr).toContain('--data-dir');
    expect(await exists(typo)).toBe(false);
  });
});

describe.concurrent('commands that need a server', () => {
  it('tell you to pass --token or set PENDULUM_TOKEN when there is no token', async () => {
    const stderr = expectFailure(
      await runCli(['trust', 'push', at('root.json'), '--server', '127.0.0.1:1']),
      'UNAUTHENTICATED',
    );
    expect(stderr).toContain('--token');
    expect(stderr).toContain('PENDULUM_TOKEN');
  });
});

describe('keygen', () => {
  it('writes the secret key readable by its owner only', async () => {
    await runCli(['keygen', '--out', at('fresh/one')]);
    expect((await stat(at('fresh/one.key'))).mode & 0o777).toBe(0o600);
    // The public half is an ordinary file: whatever the umask leaves of 0644.
    expect((await stat(at('fresh/one.pub'))).mode & 0o777).toBe(await publicMode());
  });

  it('refuses to overwrite a key without --force, and replaces it with --force', async () => {
    const before = await readFile(at('fresh/one.key'), 'utf8');
    const refused = await runCli(['keygen', '--out', at('fresh/one')]);
    expect(expectFailure(refused, 'ALREADY_EXISTS')).toContain(at('fresh/one.key'));
    expect(refused.stderr).toContain('--force');
    expect(await readFile(at('fresh/one.key'), 'utf8')).toBe(before);

    const forced = await runCli(['keygen', '--out', at('fresh/one'), '--force']);
    expect(forced.code).toBe(0);
    const after = await readFile(at('fresh/one.key'), 'utf8');
    expect(after).not.toBe(before);
    expect((await stat(at('fresh/one.key'))).mode & 0o777).toBe(0o600);
  });
});

// publicMode is what the umask leaves of 0644.
async function publicMode(): Promise<number> {
  const probe = at('umask-probe');
  await writeFile(probe, '', { mode: 0o644 });
  return (await stat(probe)).mode & 0o777;
}
