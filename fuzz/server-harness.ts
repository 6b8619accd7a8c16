// The server's real request handlers over a real SQLite store and payload
// directory, called in process (no sockets, so a million calls stay cheap),
// set up through the handlers themselves: a trust root, a payload, a release,
// a rollout, an admitted device with an open deployment.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type DescMethod } from '@bufbuild/protobuf';
import { Metadata } from '@grpc/grpc-js';
import { pino } from 'pino';
import type { CallContext } from '../src/rpc/types.js';
import type { ApiPrincipal, DevicePrincipal } from '../src/server/auth.js';
import { dataPaths, defaultServerConfig } from '../src/server/config.js';
import type { ServerContext } from '../src/server/context.js';
import { createLocalPayloadStore } from '../src/server/payloads/local.js';
import { createDeviceService } from '../src/server/services/device-service.js';
import { createFleetService } from '../src/server/services/fleet-service.js';
import { createPublisherService } from '../src/server/services/publisher-service.js';
import { openDatabase } from '../src/server/store/database.js';
import { createStore } from '../src/server/store/index.js';
import { loadTimestampSigner } from '../src/server/timestamp-key.js';
import { createWatchHub } from '../src/server/watch/hub.js';
import { sha256, toHex } from '../src/trust/digest.js';
import { formatSecretKeyFile, keyIdOf } from '../src/trust/keys.js';
import { corpus, type World } from './corpus.js';
import { fuzzKey, signFast } from './ed25519.js';
import { deviceAuthInput } from './oracle.js';
import { services } from './requests.js';

type HandlerFn = (input: unknown, call: CallContext<unknown>) => unknown;

export interface ServerHarness {
  readonly deploymentId: string;
  readonly releaseId: string;
  readonly deviceId: string;
  // The handler serving a method, with the caller it gets after authorization.
  handler(method: DescMethod): { fn: HandlerFn; call: CallContext<unknown> } | undefined;
  close(): Promise<void>;
}

const admin: ApiPrincipal = { tokenId: 'fuzz', name: 'fuzz', role: 'admin' };

// openServerHarness sets up a server's state in a temp directory.
export async function openServerHarness(): Promise<ServerHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'pendulum-fuzz-'));
  const { now, worlds, payload, classId } = corpus();
  const config = defaultServerConfig({
    data_dir: dir,
    admission: 'accept',
    log_level: 'silent',
    // The clock stands still here: without this, the limiter would soon refuse
    // every Authenticate before its signature is looked at.
    auth_rate: { per_peer: 1_000_000_000, per_device: 1_000_000_000 },
  });
  const paths = dataPaths(config);
  const store = createStore(await openDatabase({ path: paths.database }));
  const ctx: ServerContext = {
    store,
    payloads: await createLocalPayloadStore(paths.payloads),
    config,
    timestamp: await loadTimestampSigner(await writeTimestampKey(dir), dir),
    now: () => now,
    log: pino({ level: 'silent' }),
    // A Watch stream here ends at once, after its first heartbeat: the fuzzer
    // reads every stream to its end.
    watch: createWatchHub({
      maxStreams: 1,
      maxAgeMs: 1,
      heartbeatMs: 60_000,
      wakeRate: 1,
      log: pino({ level: 'silent' }),
    }),
    announce: () => undefined,
  };
  const impls: Record<string, Record<string, unknown>> = {
    'pendulum.v1.DeviceService': createDeviceService(ctx),
    'pendulum.v1.PublisherService': createPublisherService(ctx),
    'pendulum.v1.FleetService': createFleetService(ctx),
  };
  const deviceKey = fuzzKey('device-0');
  const device: DevicePrincipal = { deviceId: keyIdOf(deviceKey.publicKey), classId };
  const callFor = (method: DescMethod): CallContext<unknown> => ({
    path: `/${method.parent.typeName}/${method.name}`,
    metadata: new Metadata(),
    signal: new AbortController().signal,
    peer: 'ipv4:192.0.2.1:40000',
    principal:
      method.parent.typeName !== 'pendulum.v1.DeviceService'
        ? admin
        : method.localName === 'authenticate'
          ? undefined
          : device,
  });
  const handler = (method: DescMethod) => {
    const fn = impls[method.parent.typeName]?.[method.localName];
    return typeof fn === 'function' ? { fn: fn as HandlerFn, call: callFor(method) } : undefined;
  };
  // call runs one handler on messages built from plain values, as set-up.
  const call = async (name: string, ...inits: Record<string, unknown>[]): Promise<unknown> => {
    const method = services.flatMap((s) => s.methods).find((m) => m.localName === name);
    const found = method === undefined ? undefined : handler(method);
    if (method === undefined || found === undefined) throw new Error(`no handler for ${name}`);
    const requests = inits.map((init) => create(method.input, init as never));
    const input = method.methodKind === 'client_streaming' ? messages(requests) : requests[0];
    return await (found.fn(input, found.call) as Promise<unknown>);
  };

  const first = worlds[0] as World;
  await call('putTrustRoot', { trustRoot: first.rootSigned });
  const payloadId = toHex(sha256(payload));
  await call(
    'uploadPayload',
    { part: { case: 'header', value: { sha256: payloadId, size: BigInt(payload.length) } } },
    { part: { case: 'chunk', value: payload } },
  );
  const published = (await call('publishRelease', { manifest: first.manifests[0] })) as {
    release?: { id: string };
  };
  const releaseId = published.release?.id ?? '';
  await call('createRollout', { releaseId, classId });
  const timestampMs = BigInt(now.getTime());
  await call('authenticate', {
    publicKey: deviceKey.publicKey,
    classId,
    timestampMs,
    signature: signFast(deviceAuthInput(deviceKey.publicKey, classId, timestampMs), deviceKey),
  });
  const checkIn = (await call('checkIn', {
    status: { committedSequence: 6n, trustRootVersion: 1 },
    nonce: new Uint8Array(32).fill(5),
  })) as { offer?: { deploymentId: string } };
  const deploymentId = checkIn.offer?.deploymentId;
  if (deploymentId === undefined) throw new Error('fuzz server harness: no offer for the device');

  return {
    deploymentId,
    releaseId,
    deviceId: device.deviceId,
    handler,
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// messages turns a list into the async stream a client-streaming handler reads.
export async function* messages<T>(list: readonly T[]): AsyncGenerator<T> {
  for (const message of list) yield message;
}

// writeTimestampKey puts the corpus's timestamp key, which its roots list, in
// a file for the server to load.
async function writeTimestampKey(dir: string): Promise<string> {
  const file = join(dir, 'timestamp.key');
  await writeFile(file, formatSecretKeyFile(corpus().timestampKey, 'timestamp'), { mode: 0o600 });
  return file;
}
