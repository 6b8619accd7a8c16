// Keys rotate through the trust-root chain: a device provisioned with root v1
// installs a release signed by a key only root v2 names, and keeps v2.
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignedSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { decodeTrustRoot, generateKeyPair } from '../../src/trust/index.js';
import { makeDevice } from '../support/device.js';
import { type Fleet, startFleet, testClass } from '../support/fleet.js';
import { makeImage } from '../support/images.js';
import { deploymentHistory } from '../support/server-events.js';
import { makeTempDir } from '../support/temp-dir.js';
import { rootDocument } from '../support/vendor.js';

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;

beforeAll(async () => {
  dir = await makeTempDir('rotation');
  fleet = await startFleet(dir.path);
});
afterAll(async () => {
  await fleet.close();
  await dir.remove();
});

describe('release key rotation', () => {
  it('installs a release signed by a key that only the next trust root names', async () => {
    const device = await makeDevice(join(dir.path, 'device'), fleet);
    await device.settle();

    // The manufacturer replaces the release key: root v2, signed by the v1 root key.
    const newReleaseKey = generateKeyPair();
    const v2 = rootDocument({
      version: 2,
      rootKeys: [fleet.rootKey],
      releaseKeys: [newReleaseKey],
      signers: [fleet.rootKey],
    });
    expect((await fleet.publisher.putTrustRoot({ trustRoot: v2 })).version).toBe(2);

    const image = makeImage('3.0.0');
    await fleet.upload(image);
    const { release } = await fleet.publisher.publishRelease({
      manifest: fleet.sign(image, { version: '3.0.0', sequence: 3 }, [newReleaseKey]),
    });
    // The old key no longer signs for this fleet.
    await expect(
      fleet.publisher.publishRelease({
        manifest: fleet.sign(image, { version: '3.0.1', sequence: 4 }, [fleet.releaseKey]),
      }),
    ).rejects.toMatchObject({
      code: 'UNTRUSTED_KEY',
    });
    await fleet.fleet.createRollout({ releaseId: release?.id ?? '', classId: testClass });

    await device.settle();

    const journal = await device.journal();
    expect(journal.committed.version).toBe('3.0.0');
    const root = decodeTrustRoot(
      fromBinary(SignedSchema, Buffer.from(journal.trustRoot, 'base64')),
      'journal',
    );
    expect(root.version).toBe(2);
    const [deployment] = await deploymentHistory(fleet, await device.deviceId());
    expect(deployment?.state).toBe('committed');
  });
});
