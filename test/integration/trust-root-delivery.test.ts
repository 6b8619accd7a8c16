// New trust roots reach devices over the air: a root pushed with `pendulum
// trust push` travels in the device's next offer, the agent walks the chain
// from its own root version by version, and keeps the newest in its journal.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignedSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import {
  decodeTrustRoot,
  formatPublicKeyFile,
  formatSecretKeyFile,
  generateKeyPair,
  type KeyPair,
  parseSignedFile,
} from '../../src/trust/index.js';
import { runOk } from '../cli/cli.js';
import { makeDevice, type TestDevice } from '../support/device.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { makeImage } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';
import { rootDocument } from '../support/vendor.js';

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;
const at = (name: string) => join(dir.path, name);

beforeEach(async () => {
  dir = await makeTempDir('root-delivery');
  fleet = await startFleet(dir.path);
});
afterEach(async () => {
  await fleet.close();
  await dir.remove();
});

// writeKey stores a key pair as `<name>.key` and `<name>.pub`, as keygen would.
async function writeKey(name: string, pair: KeyPair): Promise<void> {
  await writeFile(at(`${name}.key`), formatSecretKeyFile(pair, name), { mode: 0o600 });
  await writeFile(at(`${name}.pub`), formatPublicKeyFile({ ...pair, label: name }));
}

// journalRoot is the trust root the agent persisted.
async function journalRoot(device: TestDevice) {
  const journal = await device.journal();
  return decodeTrustRoot(
    fromBinary(SignedSchema, Buffer.from(journal.trustRoot, 'base64')),
    'journal',
  );
}

describe('trust root delivery', () => {
  it('delivers a v2 root pushed with `pendulum trust push` to a device, which keeps it', async () => {
    const device = await makeDevice(at('device'), fleet);
    await device.settle();
    expect((await journalRoot(device)).version).toBe(1);

    // The manufacturer hands root signing to a new key, on the command line.
    await writeKey('root-1', fleet.rootKey);
    await writeKey('root-2', generateKeyPair());
    const current = ['--current', fleet.trustRootFile];
    await runOk([
      'trust',
      'rotate',
      ...current,
      '--add-root-key',
      at('root-2.pub'),
      '--remove-root-key',
      at('root-1.pub'),
      '--out',
      at('root-v2.json'),
    ]);
    for (const key of ['root-1', 'root-2'])
      await runOk(['trust', 'sign', '--key', at(`${key}.key`), ...current, at('root-v2.json')]);
    const pushed = await runOk([
      'trust',
      'push',
      ...current,
      at('root-v2.json'),
      '--server',
      fleet.address,
      '--token',
      fleet.server.adminToken ?? '',
    ]);
    expect(pushed).toContain('server trusts root v2');

    // The next offer carries it.
    await fleet.publish(makeImage('2.0.0'), { version: '2.0.0', sequence: 2 });
    await device.settle();

    const kept = await journalRoot(device);
    expect(kept.version).toBe(2);
    const file = parseSignedFile(await readFile(at('root-v2.json'), 'utf8'), 'root-v2.json');
    expect(toBinary(SignedSchema, kept.signed)).toEqual(toBinary(SignedSchema, file));
    expect((await device.journal()).committed.version).toBe('2.0.0');
    // The agent reloads it from its journal and says so at its next check-in.
    await device.runAgent();
    const stored = await fleet.server.context.store.devices.get(await device.deviceId());
    expect(stored?.trustRootVersion).toBe(2);
  });

  it("walks a device on v1 through v2 to v3 when both were published, and v3 has none of v1's keys", async () => {
    const device = await makeDevice(at('device'), fleet);
    await device.settle();

    const [root2, root3, release3] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const v2 = rootDocument({
      version: 2,
      rootKeys: [root2],
      releaseKeys: [fleet.releaseKey],
      signers: [fleet.rootKey, root2],
    });
    const v3 = rootDocument({
      version: 3,
      rootKeys: [root3],
      releaseKeys: [release3],
      signers: [root2, root3],
    });
    expect((await fleet.publisher.putTrustRoot({ trustRoot: v2 })).version).toBe(2);
    expect((await fleet.publisher.putTrustRoot({ trustRoot: v3 })).version).toBe(3);

    // Signed by a key only v3 names: the device must have walked to v3 to take it.
    const image = makeImage('3.0.0');
    await fleet.upload(image);
    const { release } = await fleet.publisher.publishRelease({
      manifest: fleet.sign(image, { version: '3.0.0', sequence: 3 }, [release3]),
    });
    await fleet.fleet.createRollout({ releaseId: release?.id ?? '', classId: '' });
    await device.settle();

    const kept = await journalRoot(device);
    expect(kept.version).toBe(3);
    expect(kept.rootKeys.map((k) => k.keyId)).toEqual([root3.keyId]);
    expect((await device.journal()).committed.version).toBe('3.0.0');
  });

  it('delivers a new root to a device that has nothing to install, at its next check-in', async () => {
    const device = await makeDevice(at('device'), fleet);
    await device.settle();
    const root2 = generateKeyPair();
    const v2 = rootDocument({
      version: 2,
      rootKeys: [root2],
      releaseKeys: [fleet.releaseKey],
      signers: [fleet.rootKey, root2],
    });
    await fleet.publisher.putTrustRoot({ trustRoot: v2 });

    await device.runAgent();
    expect((await journalRoot(device)).version).toBe(2);
    expect((await device.journal()).committed.version).toBe('1.0.0');
  });

  it('keeps its root when a check-in brings a chain that does not verify', async () => {
    const device = await makeDevice(at('device'), fleet);
    await device.settle();
    // Signed only by a key of its own, not by the device's current root keys.
    const stranger = generateKeyPair();
    const forged = rootDocument({
      version: 2,
      rootKeys: [stranger],
      releaseKeys: [stranger],
      signers: [stranger],
    });
    // A compromised server stores it without the checks PutTrustRoot makes.
    await fleet.server.context.store.trustRoots.insert({
      version: 2,
      vendorId: 'acme',
      signed: toBinary(SignedSchema, forged),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      now: new Date(),
    });

    await device.runAgent();
    expect((await journalRoot(device)).version).toBe(1);
  });
});
