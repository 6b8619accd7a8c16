// A trust root with no signatures, a threshold of 0 or a key listed twice is
// refused wherever one is loaded: the agent's provisioned root, a root pushed
// to the server, the server's own stored root.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedDevice } from '../../src/demo/simulated-device.js';
import {
  PublicKeySchema,
  type Signed,
  SignedSchema,
} from '../../src/gen/pendulum/v1/manifest_pb.js';
import { PublisherService } from '../../src/gen/pendulum/v1/publisher_pb.js';
import { bearer } from '../../src/rpc/auth.js';
import { createClient } from '../../src/rpc/client.js';
import type { Client } from '../../src/rpc/types.js';
import { defaultServerConfig } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';
import {
  createSigned,
  encodeTrustRoot,
  formatSignedFile,
  generateKeyPair,
  type KeyPair,
  signTrustRoot,
  type TrustRootSpec,
} from '../../src/trust/index.js';
import { distCli } from '../support/device.js';
import { type Fleet, startFleet, testClass } from '../support/fleet.js';
import { makeImage } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';
import { testTimestampKey } from '../support/vendor.js';
import { rootBody } from '../trust/fixtures.js';

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;
// A server that holds no trust root yet.
let bare: { server: RunningServer; publisher: Client<(typeof PublisherService)['method']> };
let bareChannel: GrpcClient;
const rootKey = generateKeyPair();
const releaseKey = generateKeyPair();

beforeAll(async () => {
  dir = await makeTempDir('unsafe-roots');
  fleet = await startFleet(dir.path);
  const server = await startServer(
    defaultServerConfig({ data_dir: join(dir.path, 'bare'), listen: '127.0.0.1:0' }),
    { log: pino({ level: 'silent' }) },
  );
  const token = server.adminToken ?? '';
  bareChannel = new GrpcClient(server.address, credentials.createInsecure());
  bare = { server, publisher: createClient(PublisherService, bareChannel, () => bearer(token)) };
});
afterAll(async () => {
  bareChannel.close();
  await bare.server.close();
  await fleet.close();
  await dir.remove();
});

const spec = (key: KeyPair): TrustRootSpec => ({
  version: 1,
  expiresAt: new Date(Date.now() + 86_400_000),
  vendorId: 'acme',
  rootKeys: [{ keyId: key.keyId, publicKey: key.publicKey, label: 'root' }],
  rootThreshold: 1,
  releaseKeys: [{ keyId: releaseKey.keyId, publicKey: releaseKey.publicKey, label: 'release' }],
  releaseThreshold: 1,
  timestampKeys: [
    { keyId: testTimestampKey.keyId, publicKey: testTimestampKey.publicKey, label: 'timestamp' },
  ],
  timestampThreshold: 1,
});

// Each unsafe root, signed by its own root key where it has signatures at all.
const unsafe: [string, () => Signed, string][] = [
  ['no signatures', () => createSigned(encodeTrustRoot(spec(rootKey)), []), 'signatures'],
  [
    'a root threshold of 0',
    () =>
      signTrustRoot(
        rootBody(spec(rootKey), (r) => Object.assign(r, { rootThreshold: 0 })),
        [rootKey],
      ),
    'root_threshold',
  ],
  [
    'a root key listed twice',
    () =>
      signTrustRoot(
        rootBody(spec(rootKey), (r) => {
          const key = r.rootKeys[0];
          if (key) r.rootKeys.push(create(PublicKeySchema, key));
          r.rootThreshold = 2;
        }),
        [rootKey],
      ),
    'root_keys[1]',
  ],
];

describe.each(unsafe)('a trust root with %s', (name, signed, field) => {
  it('stops the agent at its first start, before it talks to the server', async () => {
    const deviceDir = join(dir.path, `device-${name.replaceAll(' ', '-')}`);
    const rootFile = join(dir.path, `root-${name.replaceAll(' ', '-')}.json`);
    await writeFile(rootFile, formatSignedFile(signed()));
    const slots = { A: join(deviceDir, 'a.img'), B: join(deviceDir, 'b.img') };
    const device = await createSimulatedDevice({
      dir: deviceDir,
      serverAddress: fleet.address,
      classId: testClass,
      trustRootFile: rootFile,
      slots,
      factoryVersion: '1.0.0',
      factorySequence: 1,
      healthChecks: [],
      cli: distCli,
    });
    await Promise.all([writeFile(slots.A, ''), writeFile(slots.B, '')]);
    const run = await device.runAgent();
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/pendulum: MALFORMED: /);
    expect(run.stderr).toContain(field === 'signatures' ? 'no signatures' : field);
    expect(await fleet.server.context.store.devices.list()).toEqual([]);
  });

  it('is refused by a server as its first root', async () => {
    await expect(bare.publisher.putTrustRoot({ trustRoot: signed() })).rejects.toMatchObject({
      code: 'MALFORMED',
    });
  });
});

describe('a stored trust root with no signatures (a corrupted store)', () => {
  it('is refused when the server loads it to check a release', async () => {
    await fleet.server.context.store.trustRoots.insert({
      version: 2,
      vendorId: 'acme',
      signed: toBinary(
        SignedSchema,
        createSigned(encodeTrustRoot({ ...spec(fleet.rootKey), version: 2 }), []),
      ),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      now: new Date(),
    });
    const image = makeImage('2.0.0');
    await fleet.upload(image);
    await expect(
      fleet.publisher.publishRelease({ manifest: fleet.sign(image, { version: '2.0.0' }) }),
    ).rejects.toMatchObject({
      code: 'MALFORMED',
      message: expect.stringContaining('stored trust root'),
    });
  });
});
