// The pendulum server under test in a child process pinned to one core, with
// the bench vendor's trust root put on it and releases published through the
// real publisher API.
import { fileURLToPath } from 'node:url';
import { sha256, toHex } from '../../src/trust/index.js';
import { type PinnedChild, spawnPinned } from './child.js';
import type { ServerReady } from './server-process.js';
import { connectPublisher, type Publisher, type Vendor } from './vendor.js';

export const serverCore = 0;
export const clientCore = 1;

export interface FleetServer {
  readonly child: PinnedChild<ServerReady>;
  readonly address: string;
  readonly publisher: Publisher;
  // publishImage uploads `image` and publishes it signed at `sequence`; returns the release id.
  publishImage(image: Uint8Array, sequence: number): Promise<string>;
  stop(): Promise<void>;
}

// startFleetServer starts the server on `dataDir` (a first start: it prints
// the admin token) and puts the vendor's trust root on it.
export async function startFleetServer(
  dataDir: string,
  vendor: Vendor,
  config: Record<string, unknown>,
  nodeFlags: readonly string[] = [],
): Promise<FleetServer> {
  const script = fileURLToPath(new URL('./server-process.js', import.meta.url));
  const child = await spawnPinned<ServerReady>(
    script,
    [
      JSON.stringify({
        data_dir: dataDir,
        listen: '127.0.0.1:0',
        timestamp_key: vendor.timestampKeyFile,
        admission: 'accept',
        // Every simulated device is on one loopback peer address.
        auth_rate: { per_peer: 1_000_000_000, per_device: 1_000 },
        log_level: 'silent',
        ...config,
      }),
    ],
    { core: serverCore, nodeFlags },
  );
  const { address, adminToken } = child.ready;
  if (adminToken === undefined) {
    await child.stop();
    throw new Error(`${dataDir}: not a first start (no admin token)`);
  }
  const publisher = connectPublisher(address, adminToken);
  await publisher.publisher.putTrustRoot({ trustRoot: vendor.rootSigned });
  return {
    child,
    address,
    publisher,
    async publishImage(image, sequence) {
      const id = toHex(sha256(image));
      const chunk = 1024 * 1024;
      await publisher.upload(
        async function* () {
          for (let at = 0; at < image.length; at += chunk) yield image.subarray(at, at + chunk);
        },
        image.length,
        id,
      );
      return publisher.publish(vendor.sign(image, sequence));
    },
    async stop() {
      publisher.close();
      await child.stop();
    },
  };
}
