// A whole download: the server streams a payload over gRPC and the agent
// writes it into a slot while hashing, against a bare grpc-js server-streaming
// call of the same bytes that only hashes them. Also: peak memory of the
// download against the image size (the image must never be held in memory).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  credentials,
  Client as GrpcClient,
  Server,
  ServerCredentials,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { pino } from 'pino';
import { downloadIntoSlot } from '../src/device/download.js';
import { createRawSlot } from '../src/device/slots/raw.js';
import { createGrpcSource } from '../src/device/source/grpc.js';
import { defaultServerConfig } from '../src/server/config.js';
import { startServer } from '../src/server/main.js';
import { generateKeyPair, sha256, toHex } from '../src/trust/index.js';
import { benchDeployment, downloadRuntime } from './download-runtime.js';
import { report, timeRuns } from './measure.js';

const imageMiB = 128;

// benchDownload measures both and the memory ratio.
export async function benchDownload(dir: string): Promise<void> {
  const image = randomBytes(imageMiB * 1024 * 1024);
  const chunk = 1024 * 1024;

  // Baseline: a bare grpc-js stream of the same bytes in 1 MiB messages, hashed by the client.
  const bare = new Server();
  const path = '/bench.Bytes/Stream';
  const identity = (b: Buffer) => b;
  bare.addService(
    {
      stream: {
        path,
        requestStream: false,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      stream: async (call: ServerWritableStream<Buffer, Buffer>) => {
        for (let at = 0; at < image.length; at += chunk) {
          if (!call.write(image.subarray(at, at + chunk)))
            await new Promise((r) => call.once('drain', r));
        }
        call.end();
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    bare.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const client = new GrpcClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 8 * chunk,
  });
  const baseline = await timeRuns(3, async () => {
    const hash = createHash('sha256');
    for await (const data of client.makeServerStreamRequest(
      path,
      identity,
      identity,
      Buffer.alloc(0),
    ))
      hash.update(data as Buffer);
    hash.digest();
  });
  // The same, also writing each message to a file and syncing at the end: what a slot write adds.
  const sinkPath = join(dir, 'sink.img');
  await writeFile(sinkPath, Buffer.alloc(0));
  const baselineWrite = await timeRuns(3, async () => {
    const hash = createHash('sha256');
    const sink = await open(sinkPath, 'r+');
    let at = 0;
    for await (const data of client.makeServerStreamRequest(
      path,
      identity,
      identity,
      Buffer.alloc(0),
    )) {
      hash.update(data as Buffer);
      await sink.write(data as Buffer, 0, (data as Buffer).length, at);
      at += (data as Buffer).length;
    }
    await sink.sync();
    await sink.close();
    hash.digest();
  });
  client.close();
  bare.forceShutdown();

  // Ours: real server, real gRPC source with device auth, real slot file.
  const server = await startServer(
    defaultServerConfig({
      data_dir: join(dir, 'server'),
      listen: '127.0.0.1:0',
      admission: 'accept',
    }),
    { log: pino({ level: 'silent' }) },
  );
  const { store, payloads } = server.context;
  const id = toHex(sha256(image));
  await payloads.put(
    { sha256: id, size: image.length },
    (async function* () {
      for (let at = 0; at < image.length; at += chunk) yield image.subarray(at, at + chunk);
    })(),
    new AbortController().signal,
  );
  const now = new Date();
  await store.payloads.insert({ id, size: image.length, now });
  await store.releases.insert({
    id,
    vendorId: 'bench',
    classId: 'bench',
    sequence: 1,
    version: 'b',
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    signed: new Uint8Array([10, 1, 0]),
    size: image.length,
    payloads: [{ component: 'rootfs', payloadId: id, size: image.length }],
    now,
  });
  const key = generateKeyPair();
  const source = await createGrpcSource({
    address: server.address,
    caFile: undefined,
    key,
    classId: 'bench',
    callTimeoutMs: 10_000,
    maxMessageBytes: 8 * chunk,
    now: () => new Date(),
  });
  await source.checkIn(
    {
      bootedSlot: 'A',
      installedVersion: 'a',
      committedSequence: 0,
      trustRootVersion: 0,
      agentState: 'idle',
      inventory: {},
      nonce: new Uint8Array(16).fill(7),
    },
    new AbortController().signal,
  );
  const slotPath = join(dir, 'slot-b.img');
  await writeFile(slotPath, Buffer.alloc(image.length));
  await writeFile(join(dir, 'slot-a.img'), Buffer.alloc(1024));
  const slots = {
    A: createRawSlot({ name: 'A', device: join(dir, 'slot-a.img') }),
    B: createRawSlot({ name: 'B', device: slotPath }),
  };
  const rt = downloadRuntime(slots, source);
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 5);
  const startRss = process.memoryUsage().rss;
  const deployment = await store.deployments.create({
    id: randomUUID(),
    deviceId: key.keyId,
    releaseId: id,
    rolloutId: null,
    bytesTotal: image.length,
    now: new Date(),
  });
  const ours = await timeRuns(3, async () => {
    await downloadIntoSlot(rt, benchDeployment(deployment.id, id, image.length), 0, {
      synced: async () => undefined,
      progress: async () => undefined,
    });
  }).finally(async () => {
    clearInterval(sampler);
    source.close();
    await server.close();
  });
  const name = `download over gRPC into a slot (${imageMiB} MiB)`;
  report(
    name,
    { label: 'pendulum', value: imageMiB / ours, unit: 'MiB/s' },
    { label: 'bare grpc-js stream+hash', value: imageMiB / baseline },
    true,
  );
  report(
    name,
    { label: 'pendulum', value: imageMiB / ours, unit: 'MiB/s' },
    { label: 'bare stream+hash+write+fsync', value: imageMiB / baselineWrite },
    true,
  );
  const growthMiB = Math.max(0, peakRss - startRss) / 1024 / 1024;
  process.stdout.write(
    `download memory: peak RSS growth ${growthMiB.toFixed(1)} MiB for a ${imageMiB} MiB image → ratio ${(growthMiB / imageMiB).toFixed(2)} of the image (lower is better; the image is never held whole)\n`,
  );
}
