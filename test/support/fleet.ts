// A real server on a loopback port the OS picks, a manufacturer with keys and
// a trust root, and ways to publish releases — honestly, or as a compromised
// server that skips its own checks.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toBinary } from '@bufbuild/protobuf';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { pino } from 'pino';
import type { z } from 'zod';
import { DeviceService } from '../../src/gen/pendulum/v1/device_pb.js';
import { FleetService } from '../../src/gen/pendulum/v1/fleet_pb.js';
import { type Signed, SignedSchema } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { PublisherService } from '../../src/gen/pendulum/v1/publisher_pb.js';
import { bearer } from '../../src/rpc/auth.js';
import { createClient } from '../../src/rpc/client.js';
import type { Client } from '../../src/rpc/types.js';
import { defaultServerConfig, type serverConfigSchema } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';
import {
  formatSecretKeyFile,
  formatSignedFile,
  generateKeyPair,
  type KeyPair,
  type ManifestSpec,
  sha256,
  signDeviceAuth,
  toHex,
} from '../../src/trust/index.js';
import { rootDocument, signImage, testTimestampKey } from './vendor.js';

export const testClass = 'acme-gateway';

export interface Fleet {
  readonly server: RunningServer;
  readonly address: string;
  readonly trustRootFile: string;
  readonly rootKey: KeyPair;
  readonly releaseKey: KeyPair;
  readonly publisher: Client<(typeof PublisherService)['method']>;
  readonly fleet: Client<(typeof FleetService)['method']>;
  // sign builds a signed manifest for an image (defaults: this class, valid for a day).
  sign(image: Uint8Array, spec: Partial<ManifestSpec>, keys?: readonly KeyPair[]): Signed;
  // upload stores a payload on the server (the server checks its digest).
  upload(payload: Uint8Array): Promise<void>;
  // release uploads and publishes a release without rolling it out; returns its id.
  release(image: Uint8Array, spec: Partial<ManifestSpec>): Promise<string>;
  // publish uploads, publishes and rolls a release out to the class; returns the release id.
  publish(image: Uint8Array, spec: Partial<ManifestSpec>): Promise<string>;
  // newDevice authenticates a new device (admitted on first contact) and
  // returns its id and token.
  newDevice(): Promise<{ deviceId: string; token: string }>;
  // inject plays a compromised server: stores a release without verifying it and
  // hands it straight to one device.
  inject(signed: Signed, payload: Uint8Array, deviceId: string): Promise<string>;
  close(): Promise<void>;
}

// writeTestTimestampKey writes the test timestamp key, which every root
// rootDocument makes lists, into `dir` for a server's `timestamp_key`.
export async function writeTestTimestampKey(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'timestamp.key');
  await writeFile(file, formatSecretKeyFile(testTimestampKey, 'timestamp'), { mode: 0o600 });
  return file;
}

// uploadPayload stores a payload on a server, in 1 MiB chunks after a header
// with its digest and size (the server checks both).
export async function uploadPayload(
  publisher: Client<(typeof PublisherService)['method']>,
  payload: Uint8Array,
): Promise<void> {
  const chunks = async function* () {
    yield {
      part: {
        case: 'header' as const,
        value: { sha256: toHex(sha256(payload)), size: BigInt(payload.length) },
      },
    };
    for (let at = 0; at < payload.length; at += 1024 * 1024)
      yield { part: { case: 'chunk' as const, value: payload.subarray(at, at + 1024 * 1024) } };
  };
  await publisher.uploadPayload(chunks());
}

// startFleet starts a server with a data directory under `dir`.
export async function startFleet(
  dir: string,
  options: {
    releaseThreshold?: number;
    // Serve TLS with this certificate (for name "localhost"); the fleet's own clients trust it.
    tls?: { cert: string; key: string };
    // Server settings beyond the fleet's own (limits, say).
    config?: Partial<z.input<typeof serverConfigSchema>>;
    // The server's clock.
    now?: () => Date;
  } = {},
): Promise<Fleet> {
  const config = defaultServerConfig({
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    data_dir: join(dir, 'server'),
    timestamp_key: await writeTestTimestampKey(dir),
    listen: '127.0.0.1:0',
    poll_interval: '1s',
    // Devices are admitted on first contact here; test/server/services/admission.test.ts
    // covers pending, preauthorized and enrolment-token admission.
    admission: 'accept',
    ...options.config,
  });
  const server = await startServer(config, {
    log: pino({ level: 'silent' }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const token = server.adminToken;
  if (token === undefined) throw new Error('no admin token on first start');
  const channel =
    options.tls === undefined
      ? new GrpcClient(server.address, credentials.createInsecure())
      : new GrpcClient(
          `localhost:${server.port}`,
          credentials.createSsl(await readFile(options.tls.cert)),
        );
  const publisher = createClient(PublisherService, channel, () => bearer(token));
  const fleet = createClient(FleetService, channel, () => bearer(token));

  const rootKey = generateKeyPair();
  const releaseKey = generateKeyPair();
  const secondReleaseKey = generateKeyPair();
  const threshold = options.releaseThreshold ?? 1;
  const releaseKeys = threshold > 1 ? [releaseKey, secondReleaseKey] : [releaseKey];
  const root = rootDocument({
    version: 1,
    rootKeys: [rootKey],
    releaseKeys,
    signers: [rootKey],
    releaseThreshold: threshold,
  });
  const trustRootFile = join(dir, 'root.json');
  await writeFile(trustRootFile, formatSignedFile(root));
  await publisher.putTrustRoot({ trustRoot: root });

  const sign: Fleet['sign'] = (image, spec, keys) => signImage(image, keys ?? releaseKeys, spec);

  const upload = (payload: Uint8Array) => uploadPayload(publisher, payload);

  const release: Fleet['release'] = async (image, spec) => {
    await upload(image);
    const published = await publisher.publishRelease({ manifest: sign(image, spec) });
    if (published.release === undefined) throw new Error('no release');
    return published.release.id;
  };

  return {
    server,
    address: server.address,
    trustRootFile,
    rootKey,
    releaseKey,
    publisher,
    fleet,
    sign,
    upload,
    release,
    async publish(image, spec) {
      const releaseId = await release(image, spec);
      await fleet.createRollout({ releaseId, classId: '' });
      return releaseId;
    },
    async newDevice() {
      const key = generateKeyPair();
      const timestampMs = BigInt(Date.now());
      const { token } = await createClient(DeviceService, channel).authenticate({
        publicKey: key.publicKey,
        classId: testClass,
        timestampMs,
        signature: signDeviceAuth(key, testClass, timestampMs),
      });
      return { deviceId: key.keyId, token };
    },
    async inject(signed, payload, deviceId) {
      await upload(payload);
      const { store } = server.context;
      const now = new Date();
      const releaseId = toHex(sha256(signed.body));
      const payloadId = toHex(sha256(payload));
      await store.releases.insert({
        id: releaseId,
        vendorId: 'acme',
        classId: `injected-${releaseId.slice(0, 8)}`,
        sequence: 1,
        version: 'injected',
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        signed: toBinary(SignedSchema, signed),
        size: payload.length,
        payloads: [{ component: 'rootfs', payloadId, size: payload.length }],
        now,
      });
      const deployment = await store.deployments.create({
        id: randomUUID(),
        deviceId,
        releaseId,
        rolloutId: null,
        bytesTotal: payload.length,
        now,
      });
      return deployment.id;
    },
    async close() {
      channel.close();
      await server.close();
    },
  };
}
