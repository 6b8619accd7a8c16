// A 2-of-3 trust root rotation signed on three machines, typed as the README
// gives it: rotate on one host, sign on three, merge, verify, push to a real
// `pendulum server` — and every way each step refuses a root devices would
// refuse, before anything is written or sent.
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSignature,
  ComponentKind,
  createSigned,
  decodeTrustRootBody,
  encodeManifest,
  encodeTrustRoot,
  formatSignedFile,
  type KeyPair,
  parsePublicKeyFile,
  parseSecretKeyFile,
  parseSignedFile,
  sha256,
  toHex,
  updateTrustRoot,
  verifyPinnedTrustRoot,
} from '../../src/trust/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { type CliResult, type CliServer, runCli, runOk, startCliServer } from './cli.js';

let dir: { path: string; remove: () => Promise<void> };
let server: CliServer | undefined;
const at = (name: string) => join(dir.path, name);
const people = ['alice', 'bob', 'carol', 'dave', 'release-1', 'release-2', 'timestamp'];

beforeAll(async () => {
  dir = await makeTempDir('cli-trust-rotation');
  await Promise.all(people.map((name) => runOk(['keygen', '--out', at(`keys/${name}`)])));
  await runOk([
    'trust',
    'init',
    '--vendor',
    'acme',
    ...['alice', 'bob', 'carol'].flatMap((name) => ['--root-key', at(`keys/${name}.key`)]),
    '--root-threshold',
    '2',
    '--release-key',
    at('keys/release-1.pub'),
    '--timestamp-key',
    at('keys/timestamp.pub'),
    '--out',
    at('root-v1.json'),
  ]);
});
afterAll(async () => {
  await server?.stop();
  await dir.remove();
});

// expectFailure checks the one shape every failure has: exit 1, one "pendulum: CODE: …" line.
function expectFailure(result: CliResult, code: string): string {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^pendulum: ${code}: `));
  return result.stderr;
}

const secret = async (name: string): Promise<KeyPair> =>
  parseSecretKeyFile(await readFile(at(`keys/${name}.key`), 'utf8'), name);
const keyId = async (name: string) =>
  parsePublicKeyFile(await readFile(at(`keys/${name}.pub`), 'utf8'), name).keyId;
const signedFile = async (name: string) => parseSignedFile(await readFile(at(name), 'utf8'), name);

describe('a 2-of-3 root rotation on three machines (the README example)', () => {
  it('rotate writes v2 unsigned and says which signatures it needs', async () => {
    const out = await runOk([
      'trust',
      'rotate',
      '--current',
      at('root-v1.json'),
      '--remove-root-key',
      at('keys/carol.pub'),
      '--add-root-key',
      at('keys/dave.pub'),
      '--out',
      at('root-v2.json'),
    ]);
    expect(out).toContain('trust root v2, not signed yet');
    expect(out).toContain('root keys of v1 (2 required): 0 signed, 2 more from:');
    expect(out).toContain('own root keys of v2 (2 required): 0 signed, 2 more from:');
    const draft = await signedFile('root-v2.json');
    expect(draft.signatures).toEqual([]);
    const v2 = decodeTrustRootBody(draft.body, 'root-v2.json');
    expect(v2.version).toBe(2);
    expect(v2.rootKeys.map((k) => k.keyId)).toEqual(
      await Promise.all(['alice', 'bob', 'dave'].map(keyId)),
    );
  });

  it('each holder signs a copy on their own machine and is told what is still missing', async () => {
    for (const name of ['alice', 'bob', 'dave'])
      await copyFile(at('root-v2.json'), at(`machine-${name}.json`));
    const alice = await runOk([
      'trust',
      'sign',
      '--key',
      at('keys/alice.key'),
      '--current',
      at('root-v1.json'),
      at('machine-alice.json'),
      '--out',
      at('root-v2.alice.json'),
    ]);
    expect(alice).toContain(`signed by ${(await keyId('alice')).slice(0, 16)} (alice)`);
    expect(alice).toContain('root keys of v1 (2 required): 1 signed, 1 more from:');
    expect(alice).toContain('own root keys of v2 (2 required): 1 signed, 1 more from:');
    expect(alice).toMatch(/a device on trust root v1 would refuse it: THRESHOLD_NOT_MET/);

    const bob = await runOk([
      'trust',
      'sign',
      '--key',
      at('keys/bob.key'),
      '--current',
      at('root-v1.json'),
      at('machine-bob.json'),
      '--out',
      at('root-v2.bob.json'),
    ]);
    expect(bob).toContain('1 signed');
    // dave is only in v2: he can sign without the v1 root at hand.
    const dave = await runOk([
      'trust',
      'sign',
      '--key',
      at('keys/dave.key'),
      at('machine-dave.json'),
      '--out',
      at('root-v2.dave.json'),
    ]);
    expect(dave).toContain('root keys of v1: not checked here');
    expect(dave).toContain('whether a device would accept it: not known without --current');
  });

  it('signing twice with one key adds nothing and says so', async () => {
    const before = await readFile(at('root-v2.alice.json'), 'utf8');
    const again = await runOk([
      'trust',
      'sign',
      '--key',
      at('keys/alice.key'),
      at('root-v2.alice.json'),
    ]);
    expect(again).toContain('already carries a signature by');
    expect(again).toContain('nothing added');
    expect(await readFile(at('root-v2.alice.json'), 'utf8')).toBe(before);
  });

  it('merge joins the three copies; verify says a device on v1 would accept the result', async () => {
    const merged = await runOk([
      'trust',
      'merge',
      at('root-v2.alice.json'),
      at('root-v2.bob.json'),
      at('root-v2.dave.json'),
      '--current',
      at('root-v1.json'),
      '--out',
      at('root-v2.signed.json'),
    ]);
    expect(merged).toContain('merged 3 signature(s) from 3 files');
    expect(merged).toContain('root keys of v1 (2 required): 2 signed, met');
    expect(merged).toContain('own root keys of v2 (2 required): 3 signed, met');
    const verified = await runOk([
      'trust',
      'verify',
      '--current',
      at('root-v1.json'),
      at('root-v2.signed.json'),
    ]);
    expect(verified.trim().split('\n').at(-1)).toBe('a device on trust root v1 would accept it');
    // The trust core agrees.
    const v1 = verifyPinnedTrustRoot(await signedFile('root-v1.json'));
    const v2 = updateTrustRoot(v1, [await signedFile('root-v2.signed.json')], new Date());
    expect(v2.rootKeys.map((k) => k.keyId)).not.toContain(await keyId('carol'));
  });

  it('push installs v1, then v2 after checking it against v1', async () => {
    server = await startCliServer(at('server-data'), ['--timestamp-key', at('keys/timestamp.key')]);
    const connection = ['--server', server.address, '--token', server.adminToken ?? ''];
    expect(await runOk(['trust', 'push', at('root-v1.json'), ...connection])).toContain(
      'server trusts root v1',
    );
    expect(
      await runOk([
        'trust',
        'push',
        '--current',
        at('root-v1.json'),
        at('root-v2.signed.json'),
        ...connection,
      ]),
    ).toContain('server trusts root v2');
  });
});

describe.concurrent('refusals', () => {
  // No server listens on port 1: a refusal with a trust code proves nothing was sent.
  const nowhere = ['--server', '127.0.0.1:1', '--token', 'x'];

  it('verify names the threshold that is short, and exits 1', async () => {
    const result = await runCli([
      'trust',
      'verify',
      '--current',
      at('root-v1.json'),
      at('root-v2.alice.json'),
    ]);
    const stderr = expectFailure(result, 'THRESHOLD_NOT_MET');
    expect(stderr).toContain('a device on trust root v1 would refuse');
    expect(stderr).toContain('signed by the previous root');
    expect(result.stdout).toContain('root keys of v1 (2 required): 1 signed, 1 more from:');
  });

  it('verify needs the current root to judge a root above v1', async () => {
    const stderr = expectFailure(
      await runCli(['trust', 'verify', at('root-v2.signed.json')]),
      'INVALID_ARGUMENT',
    );
    expect(stderr).toContain('--current');
  });

  it('push refuses a root signed only by the old keys before sending it', async () => {
    const v1 = verifyPinnedTrustRoot(await signedFile('root-v1.json'));
    let draft = await signedFile('root-v2.json');
    for (const name of ['alice', 'carol'])
      draft = addSignature('pendulum.v1.TrustRoot', draft, await secret(name)).signed;
    // alice is in both roots, carol only in v1: v1's threshold is met, v2's is not.
    expect(() => updateTrustRoot(v1, [draft], new Date())).toThrow();
    await writeFile(at('old-keys-only.json'), formatSignedFile(draft));
    const result = await runCli([
      'trust',
      'push',
      '--current',
      at('root-v1.json'),
      at('old-keys-only.json'),
      ...nowhere,
    ]);
    const stderr = expectFailure(result, 'THRESHOLD_NOT_MET');
    expect(stderr).toContain('not sent');
    expect(stderr).toContain('signed by its own keys');
  });

  it('push refuses an unsigned root before sending it', async () => {
    const stderr = expectFailure(
      await runCli([
        'trust',
        'push',
        '--current',
        at('root-v1.json'),
        at('root-v2.json'),
        ...nowhere,
      ]),
      'MALFORMED',
    );
    expect(stderr).toContain('no signatures');
  });

  it('push needs the current root for a root above v1', async () => {
    expect(
      expectFailure(
        await runCli(['trust', 'push', at('root-v2.signed.json'), ...nowhere]),
        'INVALID_ARGUMENT',
      ),
    ).toContain('--current');
  });

  it('merge refuses copies of different roots, naming both files', async () => {
    await runOk([
      'trust',
      'rotate',
      '--current',
      at('root-v1.json'),
      '--root-threshold',
      '3',
      '--out',
      at('other-v2.json'),
    ]);
    const stderr = expectFailure(
      await runCli([
        'trust',
        'merge',
        at('root-v2.alice.json'),
        at('other-v2.json'),
        '--out',
        at('never-merged.json'),
      ]),
      'INVALID_ARGUMENT',
    );
    expect(stderr).toContain(at('root-v2.alice.json'));
    expect(stderr).toContain(at('other-v2.json'));
    expect(stderr).toContain('bodies differ');
  });

  it('sign refuses a key that counts toward neither root', async () => {
    const stderr = expectFailure(
      await runCli([
        'trust',
        'sign',
        '--key',
        at('keys/release-1.key'),
        '--current',
        at('root-v1.json'),
        at('root-v2.json'),
        '--out',
        at('never-signed.json'),
      ]),
      'UNTRUSTED_KEY',
    );
    expect(stderr).toContain(at('keys/release-1.key'));
  });

  it('sign asks for the current root before signing with a key only the old root lists', async () => {
    expect(
      expectFailure(
        await runCli([
          'trust',
          'sign',
          '--key',
          at('keys/carol.key'),
          at('root-v2.json'),
          '--out',
          at('never-signed.json'),
        ]),
        'INVALID_ARGUMENT',
      ),
    ).toContain('--current');
  });

  it('sign refuses a root that skips a version, whoever signs it', async () => {
    const v1 = verifyPinnedTrustRoot(await signedFile('root-v1.json'));
    const v3 = createSigned(
      encodeTrustRoot({ ...v1, version: 3, expiresAt: new Date(Date.now() + 86_400_000) }),
      [],
    );
    await writeFile(at('v3-draft.json'), formatSignedFile(v3));
    const stderr = expectFailure(
      await runCli([
        'trust',
        'sign',
        '--key',
        at('keys/alice.key'),
        '--current',
        at('root-v1.json'),
        at('v3-draft.json'),
      ]),
      'ROLLBACK_REJECTED',
    );
    expect(stderr).toContain('not worth signing');
    expect((await signedFile('v3-draft.json')).signatures).toEqual([]);
  });

  it.each([
    ['a root threshold of 0', ['--root-threshold', '0'], 'INVALID_ARGUMENT', '--root-threshold'],
    [
      'a root threshold above the keys',
      ['--root-threshold', '4'],
      'INVALID_ARGUMENT',
      'root threshold 4',
    ],
    [
      'a release threshold of 0',
      ['--release-threshold', '0'],
      'INVALID_ARGUMENT',
      '--release-threshold',
    ],
    [
      'a key added that is already listed',
      ['--add-root-key', 'keys/alice.pub'],
      'INVALID_ARGUMENT',
      'twice',
    ],
    [
      'removing a key the root does not list',
      ['--remove-root-key', 'keys/dave.pub'],
      'INVALID_ARGUMENT',
      'does not list it',
    ],
    [
      'removing every release key',
      ['--remove-release-key', 'keys/release-1.pub'],
      'INVALID_ARGUMENT',
      'no release keys',
    ],
    ['an expiry in the past', ['--expires', '2020-01-01'], 'EXPIRED', '2020-01-01'],
  ])('rotate refuses %s and writes nothing', async (name, args, code, mentions) => {
    const out = at(`refused-${name.replaceAll(' ', '-')}.json`);
    const resolved = args.map((arg) => (arg.startsWith('keys/') ? at(arg) : arg));
    const result = await runCli([
      'trust',
      'rotate',
      '--current',
      at('root-v1.json'),
      ...resolved,
      '--out',
      out,
    ]);
    expect(expectFailure(result, code)).toContain(mentions);
    expect(await readFile(out).catch(() => undefined)).toBeUndefined();
  });

  it('rotate removes a key given by a key id prefix', async () => {
    const prefix = (await keyId('carol')).slice(0, 12);
    const out = await runOk([
      'trust',
      'rotate',
      '--current',
      at('root-v1.json'),
      '--remove-root-key',
      prefix,
      '--out',
      at('by-prefix.json'),
    ]);
    expect(out).toContain('root keys (2 of 2)');
  });

  it('init refuses one root key given twice, naming both files', async () => {
    await copyFile(at('keys/alice.key'), at('alice-copy.key'));
    const stderr = expectFailure(
      await runCli([
        'trust',
        'init',
        '--vendor',
        'acme',
        '--root-key',
        at('keys/alice.key'),
        '--root-key',
        at('alice-copy.key'),
        '--root-threshold',
        '2',
        '--release-key',
        at('keys/release-1.pub'),
        '--timestamp-key',
        at('keys/timestamp.pub'),
        '--out',
        at('never-init.json'),
      ]),
      'INVALID_ARGUMENT',
    );
    expect(stderr).toContain(at('alice-copy.key'));
    expect(stderr).toContain(at('keys/alice.key'));
  });
});

describe('a manifest that needs two release signatures', () => {
  it('is signed on two machines, merged, and verified against the trust root', async () => {
    await runOk([
      'trust',
      'init',
      '--vendor',
      'acme',
      '--root-key',
      at('keys/alice.key'),
      '--release-key',
      at('keys/release-1.pub'),
      '--release-key',
      at('keys/release-2.pub'),
      '--release-threshold',
      '2',
      '--timestamp-key',
      at('keys/timestamp.pub'),
      '--out',
      at('root-2-releases.json'),
    ]);
    const image = new TextEncoder().encode('rootfs image');
    const body = encodeManifest({
      vendorId: 'acme',
      classId: 'acme-gateway',
      sequence: 2,
      version: '1.1.0',
      expiresAt: new Date(Date.now() + 86_400_000),
      components: [
        {
          name: 'rootfs',
          kind: ComponentKind.ROOTFS,
          size: image.length,
          sha256: toHex(sha256(image)),
        },
      ],
      bootAttempts: 3,
      confirmDeadlineMs: 60_000,
    });
    await writeFile(at('manifest.json'), formatSignedFile(createSigned(body, [])));
    const current = ['--current', at('root-2-releases.json')];
    for (const name of ['release-1', 'release-2']) {
      await runOk([
        'trust',
        'sign',
        '--key',
        at(`keys/${name}.key`),
        ...current,
        at('manifest.json'),
        '--out',
        at(`manifest.${name}.json`),
      ]);
    }
    const one = await runCli(['trust', 'verify', ...current, at('manifest.release-1.json')]);
    expect(expectFailure(one, 'THRESHOLD_NOT_MET')).toContain('would refuse');
    expect(one.stdout).toContain('release keys of trust root v1 (2 required): 1 signed');

    await runOk([
      'trust',
      'merge',
      at('manifest.release-1.json'),
      at('manifest.release-2.json'),
      '--out',
      at('manifest.signed.json'),
    ]);
    const both = await runOk(['trust', 'verify', ...current, at('manifest.signed.json')]);
    expect(both).toContain('manifest acme-gateway 1.1.0 (sequence 2)');
    expect(both.trim().split('\n').at(-1)).toBe('a device on trust root v1 would accept it');
  });
});
