// Removing a release key from the trust root revokes what it signed alone —
// also a release published and rolled out while it was still trusted — and
// nothing that a key still trusted signs to the threshold. The device decides,
// with the root it walked to from the offer, before a payload byte is fetched.
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignedSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { decodeTrustRoot, generateKeyPair } from '../../src/trust/index.js';
import { makeDevice, slotBytes, type TestDevice } from '../support/device.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { makeImage } from '../support/images.js';
import { deploymentHistory } from '../support/server-events.js';
import { makeTempDir } from '../support/temp-dir.js';
import { rootDocument } from '../support/vendor.js';

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;

beforeEach(async () => {
  dir = await makeTempDir('revocation');
  fleet = await startFleet(dir.path);
});
afterEach(async () => {
  await fleet.close();
  await dir.remove();
});

async function journalRootVersion(device: TestDevice): Promise<number> {
  const journal = await device.journal();
  return decodeTrustRoot(
    fromBinary(SignedSchema, Buffer.from(journal.trustRoot, 'base64')),
    'journal',
  ).version;
}

// publishSignedBy publishes an image signed by `keys` and rolls it out.
async function publishSignedBy(
  version: string,
  sequence: number,
  keys: Parameters<Fleet['sign']>[2],
) {
  const image = makeImage(version);
  await fleet.upload(image);
  const { release } = await fleet.publisher.publishRelease({
    manifest: fleet.sign(image, { version, sequence }, keys),
  });
  await fleet.fleet.createRollout({ releaseId: release?.id ?? '', classId: '' });
  return image;
}

describe('release key revocation, end to end', () => {
  it('refuses a release signed only by a release key the new root removed, though it was published before', async () => {
    const device = await makeDevice(join(dir.path, 'device'), fleet);
    await device.settle();
    const slotB = await device.slotDigest('B', slotBytes);

    // Published and rolled out under v1, while its key was trusted.
    await publishSignedBy('2.0.0', 2, [fleet.releaseKey]);
    // Then the key is revoked: v2 names another release key.
    const v2 = rootDocument({
      version: 2,
      rootKeys: [fleet.rootKey],
      releaseKeys: [generateKeyPair()],
      signers: [fleet.rootKey],
    });
    await fleet.publisher.putTrustRoot({ trustRoot: v2 });

    const run = await device.runAgent();
    expect(run.result).toBe('idle');
    const [deployment] = await deploymentHistory(fleet, await device.deviceId());
    expect(deployment?.state).toBe('failed');
    expect(deployment?.errorCode).toBe('UNTRUSTED_KEY');
    expect(deployment?.events).not.toContain('downloading');
    expect((await device.journal()).committed.version).toBe('1.0.0');
    expect(await device.slotDigest('B', slotBytes)).toBe(slotB);
    // The device took the new root even though it refused the release.
    expect(await journalRootVersion(device)).toBe(2);
  });

  it('installs a release signed by a removed key and a kept one while the kept one meets the threshold', async () => {
    const device = await makeDevice(join(dir.path, 'device'), fleet);
    await device.settle();
    const removed = fleet.releaseKey;
    const kept = generateKeyPair();
    // v2 adds a second release key; the release is signed by both.
    await fleet.publisher.putTrustRoot({
      trustRoot: rootDocument({
        version: 2,
        rootKeys: [fleet.rootKey],
        releaseKeys: [removed, kept],
        signers: [fleet.rootKey],
      }),
    });
    await publishSignedBy('2.0.0', 2, [removed, kept]);
    // v3 removes the first before the device has checked in.
    await fleet.publisher.putTrustRoot({
      trustRoot: rootDocument({
        version: 3,
        rootKeys: [fleet.rootKey],
        releaseKeys: [kept],
        signers: [fleet.rootKey],
      }),
    });

    await device.settle();

    expect((await device.journal()).committed.version).toBe('2.0.0');
    expect(await journalRootVersion(device)).toBe(3);
    const [deployment] = await deploymentHistory(fleet, await device.deviceId());
    expect(deployment?.state).toBe('committed');
  });
});
