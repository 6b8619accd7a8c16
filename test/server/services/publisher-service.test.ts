// PublisherService against a real server: uploads are checked before they are
// kept, releases are verified against the trust root before they are
// published, and trust roots only move forward along a signed chain.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/gen/pendulum/v1/device_pb.js';
import { type Signed, SignedSchema } from '../../../src/gen/pendulum/v1/manifest_pb.js';
import { PublisherService } from '../../../src/gen/pendulum/v1/publisher_pb.js';
import { bearer } from '../../../src/rpc/auth.js';
import { createClient } from '../../../src/rpc/client.js';
import { dataPaths, defaultServerConfig } from '../../../src/server/config.js';
import { startServer } from '../../../src/server/main.js';
import {
  bytesEqual,
  ComponentKind,
  decodeTrustRoot,
  generateKeyPair,
  sha256,
  signDeviceAuth,
  toHex,
} from '../../../src/trust/index.js';
import { type Fleet, startFleet, testClass, writeTestTimestampKey } from '../../support/fleet.js';
import { makeImage } from '../../support/images.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { rootDocument } from '../../support/vendor.js';

// Every check-in carries a nonce; the server only checks its length.
const nonce = new Uint8Array(16).fill(7);

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;

beforeAll(async () => {
  dir = await makeTempDir('publisher');
  fleet = await startFleet(join(dir.path, 'fleet'));
});
afterAll(async () => {
  await fleet.close();
  await dir.remove();
});

type UploadPart =
  | { case: 'header'; value: { sha256: string; size: bigint } }
  | { case: 'chunk'; value: Uint8Array };

// upload streams the given messages, as a publisher would.
function upload(parts: readonly UploadPart[], publisher = fleet.publisher) {
  return publisher.uploadPayload(
    (async function* () {
      for (const part of parts) yield { part };
    })(),
  );
}

const header = (sha: string, size: number): UploadPart => ({
  case: 'header',
  value: { sha256: sha, size: BigInt(size) },
});
const chunk = (bytes: Uint8Array): UploadPart => ({ case: 'chunk', value: bytes });

// uploadImage uploads honestly: a header that tells the truth, then the bytes.
async function uploadImage(image: Uint8Array, to: Fleet = fleet): Promise<void> {
  await upload([header(toHex(sha256(image)), image.length), chunk(image)], to.publisher);
}

// nothingStored checks that a payload id is neither recorded nor on disk, and
// that no temp file of the failed upload is left.
async function expectNothingStored(id: string): Promise<void> {
  const { store, payloads, config } = fleet.server.context;
  expect(await store.payloads.get(id)).toBeUndefined();
  expect(await payloads.stat(id)).toBeUndefined();
  expect(await readdir(join(dataPaths(config).payloads, 'tmp'))).toEqual([]);
}

const small = (name: string) => makeImage(name, { bytes: 96 * 1024 + 7 });

describe('payload uploads', () => {
  it('refuses bytes whose digest is not the declared one, and keeps nothing', async () => {
    const image = small('digest-lie');
    const declared = toHex(sha256(small('what-was-signed')));
    await expect(upload([header(declared, image.length), chunk(image)])).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    await expectNothingStored(declared);
    await expectNothingStored(toHex(sha256(image)));

    // A manifest that names the declared digest cannot be published on the strength of it.
    const manifest = fleet.sign(image, {
      sequence: 100,
      components: [
        { name: 'rootfs', kind: ComponentKind.ROOTFS, size: image.length, sha256: declared },
      ],
    });
    await expect(fleet.publisher.publishRelease({ manifest })).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringContaining('not uploaded'),
    });
  });

  it('refuses a stream longer than its header says', async () => {
    const image = small('too-long');
    const id = toHex(sha256(image.subarray(0, image.length - 1)));
    await expect(upload([header(id, image.length - 1), chunk(image)])).rejects.toMatchObject({
      code: 'SIZE_MISMATCH',
    });
    await expectNothingStored(id);
  });

  it('refuses a stream shorter than its header says', async () => {
    const image = small('too-short');
    const id = toHex(sha256(image));
    await expect(
      upload([header(id, image.length), chunk(image.subarray(0, image.length - 1))]),
    ).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    await expectNothingStored(id);
  });

  it('refuses an upload that does not start with a header', async () => {
    const image = small('headless');
    await expect(upload([chunk(image)])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('header'),
    });
    await expect(upload([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expectNothingStored(toHex(sha256(image)));
  });

  it('refuses a second header in the middle of the bytes', async () => {
    const image = small('two-headers');
    const id = toHex(sha256(image));
    await expect(
      upload([header(id, image.length), chunk(image.subarray(0, 10)), header(id, image.length)]),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expectNothingStored(id);
  });

  it('refuses a header whose digest is not 64 lower-case hex digits', async () => {
    const image = small('upper-case');
    await expect(
      upload([header(toHex(sha256(image)).toUpperCase(), image.length), chunk(image)]),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('sha256'),
    });
  });

  it('keeps one copy when the same bytes are uploaded twice', async () => {
    const image = small('twice');
    const id = toHex(sha256(image));
    const first = await upload([header(id, image.length), chunk(image)]);
    const second = await upload([header(id, image.length), chunk(image)]);
    expect([first.created, second.created]).toEqual([true, false]);
    expect(await fleet.server.context.payloads.stat(id)).toBe(image.length);
  });
});

describe('publishing releases', () => {
  it('refuses a manifest signed by a key the trust root does not name', async () => {
    const image = small('unknown-key');
    await uploadImage(image);
    const manifest = fleet.sign(image, { sequence: 200 }, [generateKeyPair()]);
    await expect(fleet.publisher.publishRelease({ manifest })).rejects.toMatchObject({
      code: 'UNTRUSTED_KEY',
    });
    expect(await fleet.server.context.store.releases.list({ classId: testClass })).toEqual([]);
  });

  it('refuses an expired manifest', async () => {
    const image = small('expired');
    await uploadImage(image);
    const manifest = fleet.sign(image, { sequence: 201, expiresAt: new Date(Date.now() - 1000) });
    await expect(fleet.publisher.publishRelease({ manifest })).rejects.toMatchObject({
      code: 'EXPIRED',
    });
  });

  it('refuses a release whose payload was never uploaded, naming the component', async () => {
    const image = small('never-uploaded');
    const manifest = fleet.sign(image, {
      sequence: 202,
      components: [
        {
          name: 'bootfs',
          kind: ComponentKind.ROOTFS,
          size: image.length,
          sha256: toHex(sha256(image)),
        },
      ],
    });
    await expect(fleet.publisher.publishRelease({ manifest })).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringContaining('"bootfs"'),
    });
  });

  it('refuses a release whose rollback floor is above its own sequence', async () => {
    const image = small('floor-above-sequence');
    await uploadImage(image);
    const manifest = fleet.sign(image, { sequence: 203, rollbackFloor: 204 });
    await expect(fleet.publisher.publishRelease({ manifest })).rejects.toMatchObject({
      code: 'MALFORMED',
      message: expect.stringContaining('rollback_floor'),
    });
    const { releases } = await fleet.publisher.listReleases({ classId: testClass });
    expect(releases.filter((r) => r.sequence === 203n)).toEqual([]);
  });

  it('publishes the same manifest twice as one release', async () => {
    const image = small('idempotent');
    await uploadImage(image);
    const manifest = fleet.sign(image, { sequence: 300, version: '3.0.0' });
    const first = await fleet.publisher.publishRelease({ manifest });
    const again = await fleet.publisher.publishRelease({ manifest });
    expect(again.release?.id).toBe(first.release?.id);
    const { releases } = await fleet.publisher.listReleases({ classId: testClass });
    expect(releases.filter((r) => r.sequence === 300n).map((r) => r.id)).toEqual([
      first.release?.id,
    ]);
  });

  it('refuses a different manifest that reuses a class and sequence', async () => {
    const image = small('reused-sequence');
    await uploadImage(image);
    await fleet.publisher.publishRelease({
      manifest: fleet.sign(image, { sequence: 301, version: '3.0.1' }),
    });
    await expect(
      fleet.publisher.publishRelease({
        manifest: fleet.sign(image, { sequence: 301, version: '3.0.1-rebuilt' }),
      }),
    ).rejects.toMatchObject({ code: 'ALREADY_EXISTS', message: expect.stringContaining('301') });
    const { releases } = await fleet.publisher.listReleases({ classId: testClass });
    expect(releases.filter((r) => r.sequence === 301n).map((r) => r.version)).toEqual(['3.0.1']);
  });
});

describe('a server without a trust root', () => {
  let bare: Awaited<ReturnType<typeof startServer>>;
  let channel: GrpcClient;
  let publisher: Fleet['publisher'];

  beforeAll(async () => {
    bare = await startServer(
      defaultServerConfig({
        data_dir: join(dir.path, 'bare'),
        listen: '127.0.0.1:0',
        timestamp_key: await writeTestTimestampKey(join(dir.path, 'bare-keys')),
      }),
      { log: pino({ level: 'silent' }) },
    );
    channel = new GrpcClient(bare.address, credentials.createInsecure());
    const token = bare.adminToken ?? '';
    publisher = createClient(PublisherService, channel, () => bearer(token));
  });
  afterAll(async () => {
    channel.close();
    await bare.close();
  });

  it('refuses to publish, and says to push a trust root first', async () => {
    const image = small('rootless');
    await upload([header(toHex(sha256(image)), image.length), chunk(image)], publisher);
    await expect(
      publisher.publishRelease({ manifest: fleet.sign(image, {}) }),
    ).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringContaining('trust push'),
    });
  });

  it('refuses an expired first trust root', async () => {
    const key = generateKeyPair();
    const expired = rootDocument({
      version: 1,
      rootKeys: [key],
      releaseKeys: [key],
      signers: [key],
      expiresAt: new Date(Date.now() - 1000),
    });
    await expect(publisher.putTrustRoot({ trustRoot: expired })).rejects.toMatchObject({
      code: 'EXPIRED',
    });
    expect(await bare.context.store.trustRoots.latest()).toBeUndefined();
  });
});

describe('trust root rotation', () => {
  // Its own server: these tests move the trust root forward.
  let rotating: Fleet;
  let channel: GrpcClient;
  const newRootKey = generateKeyPair();
  const newReleaseKey = generateKeyPair();
  const v2 = () =>
    rootDocument({
      version: 2,
      rootKeys: [newRootKey],
      releaseKeys: [newReleaseKey],
      signers: [rotating.rootKey, newRootKey],
    });
  let acceptedV2: Signed;

  beforeAll(async () => {
    rotating = await startFleet(join(dir.path, 'rotating'));
    channel = new GrpcClient(rotating.address, credentials.createInsecure());
  });
  afterAll(async () => {
    channel.close();
    await rotating.close();
  });

  const latestVersion = async () =>
    (await rotating.server.context.store.trustRoots.latest())?.version;

  it('refuses a v2 signed only by its own new keys (the old root never approved it)', async () => {
    const forged = rootDocument({
      version: 2,
      rootKeys: [newRootKey],
      releaseKeys: [newReleaseKey],
      signers: [newRootKey],
    });
    await expect(rotating.publisher.putTrustRoot({ trustRoot: forged })).rejects.toMatchObject({
      code: 'UNTRUSTED_KEY',
    });
    expect(await latestVersion()).toBe(1);
  });

  it('refuses a v2 signed only by the old root when it names root keys that did not sign', async () => {
    const unapproved = rootDocument({
      version: 2,
      rootKeys: [newRootKey],
      releaseKeys: [newReleaseKey],
      signers: [rotating.rootKey],
    });
    await expect(rotating.publisher.putTrustRoot({ trustRoot: unapproved })).rejects.toMatchObject({
      code: 'UNTRUSTED_KEY',
    });
    expect(await latestVersion()).toBe(1);
  });

  it('refuses a v3 that skips v2', async () => {
    const skipping = rootDocument({
      version: 3,
      rootKeys: [newRootKey],
      releaseKeys: [newReleaseKey],
      signers: [rotating.rootKey, newRootKey],
    });
    await expect(rotating.publisher.putTrustRoot({ trustRoot: skipping })).rejects.toMatchObject({
      code: 'ROLLBACK_REJECTED',
    });
    expect(await latestVersion()).toBe(1);
  });

  it('refuses a v2 for another vendor', async () => {
    const foreign = rootDocument({
      version: 2,
      rootKeys: [newRootKey],
      releaseKeys: [newReleaseKey],
      signers: [rotating.rootKey, newRootKey],
      vendorId: 'globex',
    });
    await expect(rotating.publisher.putTrustRoot({ trustRoot: foreign })).rejects.toMatchObject({
      code: 'INCOMPATIBLE',
    });
    expect(await latestVersion()).toBe(1);
  });

  it('accepts re-pushing the current root without storing it again', async () => {
    const current = await rotating.server.context.store.trustRoots.latest();
    if (current === undefined) throw new Error('no trust root');
    const response = await rotating.publisher.putTrustRoot({
      trustRoot: fromBinary(SignedSchema, current.signed),
    });
    expect(response.version).toBe(1);
    expect(await rotating.server.context.store.trustRoots.after(0)).toHaveLength(1);
  });

  it('accepts a v2 signed by the v1 root keys and its own, and serves the chain to devices', async () => {
    acceptedV2 = v2();
    expect((await rotating.publisher.putTrustRoot({ trustRoot: acceptedV2 })).version).toBe(2);
    expect(await latestVersion()).toBe(2);

    // A device still at v1 is handed v2 with its next offer; one at v0 the whole chain.
    const image = small('after-rotation-offer');
    await uploadImage(image, rotating);
    const { release } = await rotating.publisher.publishRelease({
      manifest: rotating.sign(image, { sequence: 2 }, [newReleaseKey]),
    });
    await rotating.fleet.createRollout({ releaseId: release?.id ?? '', classId: '' });
    const atV1 = await checkIn(channel, 1);
    expect(atV1.offer).toBeDefined();
    expect(atV1?.trustRoots.map((root) => decodeTrustRoot(root, 'offered').version)).toEqual([2]);
    expect(bytesEqual(atV1?.trustRoots[0]?.body ?? new Uint8Array(), acceptedV2.body)).toBe(true);
    const atV0 = await checkIn(channel, 0);
    expect(atV0?.trustRoots.map((root) => decodeTrustRoot(root, 'offered').version)).toEqual([
      1, 2,
    ]);
  });

  it('publishes releases signed with the new release key and refuses the removed one', async () => {
    const fresh = small('signed-by-new-key');
    await uploadImage(fresh, rotating);
    const published = await rotating.publisher.publishRelease({
      manifest: rotating.sign(fresh, { sequence: 3 }, [newReleaseKey]),
    });
    expect(published.release?.sequence).toBe(3n);

    const stale = small('signed-by-removed-key');
    await uploadImage(stale, rotating);
    await expect(
      rotating.publisher.publishRelease({
        manifest: rotating.sign(stale, { sequence: 4 }, [rotating.releaseKey]),
      }),
    ).rejects.toMatchObject({ code: 'UNTRUSTED_KEY' });
  });

  it('refuses to go back to v1 once v2 is current', async () => {
    const v1 = (await rotating.server.context.store.trustRoots.after(0))[0];
    if (v1 === undefined) throw new Error('no v1');
    await expect(
      rotating.publisher.putTrustRoot({ trustRoot: fromBinary(SignedSchema, v1.signed) }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^(ROLLBACK_REJECTED|UNTRUSTED_KEY)$/) });
    expect(await latestVersion()).toBe(2);
  });

  // checkIn plays a new device at `rootVersion` and returns what it is offered.
  async function checkIn(channel: GrpcClient, rootVersion: number) {
    const key = generateKeyPair();
    const devices = createClient(DeviceService, channel);
    const timestampMs = BigInt(Date.now());
    const { token } = await devices.authenticate({
      publicKey: key.publicKey,
      classId: testClass,
      timestampMs,
      signature: signDeviceAuth(key, testClass, timestampMs),
    });
    const response = await createClient(DeviceService, channel, () => bearer(token)).checkIn({
      status: { committedSequence: 1n, trustRootVersion: rootVersion, installedVersion: '1.0.0' },
      nonce,
    });
    return response;
  }
});
