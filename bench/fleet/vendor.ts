// A manufacturer for the fleet benchmark: root, release and timestamp keys,
// a trust root listing them, signed releases, and a publisher that puts them
// on a server through its real API.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { FleetService } from '../../src/gen/pendulum/v1/fleet_pb.js';
import type { Signed } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { PublisherService } from '../../src/gen/pendulum/v1/publisher_pb.js';
import { bearer } from '../../src/rpc/auth.js';
import { createClient } from '../../src/rpc/client.js';
import {
  ComponentKind,
  decodeTrustRoot,
  encodeManifest,
  encodeTrustRoot,
  formatSecretKeyFile,
  generateKeyPair,
  type KeyPair,
  sha256,
  signManifest,
  signTrustRoot,
  toHex,
  type VerifiedTrustRoot,
} from '../../src/trust/index.js';

export const benchVendor = 'bench';
export const benchClass = 'bench-gateway';
const day = 86_400_000;

export interface Vendor {
  readonly releaseKey: KeyPair;
  readonly rootSigned: Signed;
  readonly root: VerifiedTrustRoot;
  // The server's timestamp key file (the root lists its public half).
  readonly timestampKeyFile: string;
  // sign makes the manifest installing `image` as the rootfs at `sequence`.
  sign(image: Uint8Array, sequence: number): Signed;
}

// createVendor makes the keys and the version 1 trust root, writing the
// timestamp key into `dir` for the server's `timestamp_key`.
export async function createVendor(dir: string): Promise<Vendor> {
  const rootKey = generateKeyPair();
  const releaseKey = generateKeyPair();
  const timestampKey = generateKeyPair();
  const info = (key: KeyPair, label: string) => ({
    keyId: key.keyId,
    publicKey: key.publicKey,
    label,
  });
  const rootSigned = signTrustRoot(
    encodeTrustRoot({
      version: 1,
      expiresAt: new Date(Date.now() + 365 * day),
      vendorId: benchVendor,
      rootKeys: [info(rootKey, 'root')],
      rootThreshold: 1,
      releaseKeys: [info(releaseKey, 'release')],
      releaseThreshold: 1,
      timestampKeys: [info(timestampKey, 'timestamp')],
      timestampThreshold: 1,
    }),
    [rootKey],
  );
  const timestampKeyFile = join(dir, 'timestamp.key');
  await writeFile(timestampKeyFile, formatSecretKeyFile(timestampKey, 'timestamp'), {
    mode: 0o600,
  });
  return {
    releaseKey,
    rootSigned,
    root: decodeTrustRoot(rootSigned, 'bench trust root'),
    timestampKeyFile,
    sign: (image, sequence) =>
      signManifest(
        encodeManifest({
          vendorId: benchVendor,
          classId: benchClass,
          sequence,
          version: `1.${sequence}.0`,
          expiresAt: new Date(Date.now() + day),
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
        }),
        [releaseKey],
      ),
  };
}

export type Publisher = ReturnType<typeof connectPublisher>;

// connectPublisher talks to a server's PublisherService and FleetService with an admin token.
export function connectPublisher(address: string, token: string) {
  const channel = new GrpcClient(address, credentials.createInsecure());
  const publisher = createClient(PublisherService, channel, () => bearer(token));
  const fleet = createClient(FleetService, channel, () => bearer(token));
  return {
    publisher,
    fleet,
    // upload streams a payload in 1 MiB messages (the server checks its digest).
    async upload(chunks: () => AsyncIterable<Uint8Array>, size: number, id: string) {
      await publisher.uploadPayload(
        (async function* () {
          yield { part: { case: 'header' as const, value: { sha256: id, size: BigInt(size) } } };
          for await (const chunk of chunks())
            yield { part: { case: 'chunk' as const, value: chunk } };
        })(),
      );
    },
    // publish stores a signed release whose payloads are uploaded; returns its id.
    async publish(manifest: Signed): Promise<string> {
      const { release } = await publisher.publishRelease({ manifest });
      if (release === undefined) throw new Error('PublishRelease returned no release');
      return release.id;
    },
    close: () => channel.close(),
  };
}
