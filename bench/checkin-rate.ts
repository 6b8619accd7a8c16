// Device check-ins per second (authenticated, recorded in SQLite, rollout
// lookup) with 64 calls in flight, against a bare grpc-js unary echo at the
// same concurrency.
import { join } from 'node:path';
import {
  credentials,
  Client as GrpcClient,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { pino } from 'pino';
import { createGrpcSource } from '../src/device/source/grpc.js';
import { defaultServerConfig } from '../src/server/config.js';
import { startServer } from '../src/server/main.js';
import { generateKeyPair } from '../src/trust/index.js';
import { report } from './measure.js';

const inFlight = 64;
const calls = 3000;

async function rate(call: (worker: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      while (next < calls) {
        next++;
        await call(worker);
      }
    }),
  );
  return calls / (Number(process.hrtime.bigint() - start) / 1e9);
}

// benchCheckInRate measures both rates.
export async function benchCheckInRate(dir: string): Promise<void> {
  const identity = (b: Buffer) => b;
  const echo = new Server();
  const path = '/bench.Echo/Echo';
  echo.addService(
    {
      echo: {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      echo: (call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) =>
        done(null, call.request),
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    echo.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const client = new GrpcClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const payload = Buffer.alloc(64, 1);
  const baseline = await rate(
    () =>
      new Promise((resolve, reject) =>
        client.makeUnaryRequest(path, identity, identity, payload, (e) =>
          e ? reject(e) : resolve(),
        ),
      ),
  );
  client.close();
  echo.forceShutdown();

  const server = await startServer(
    defaultServerConfig({
      data_dir: join(dir, 'rate'),
      listen: '127.0.0.1:0',
      // Every simulated device authenticates from this one loopback peer.
      admission: 'accept',
      auth_rate: { per_peer: 1_000_000, per_device: 1_000 },
    }),
    { log: pino({ level: 'silent' }) },
  );
  const status = {
    bootedSlot: 'A' as const,
    installedVersion: '1.0.0',
    committedSequence: 1,
    trustRootVersion: 1,
    agentState: 'idle',
    inventory: { kernel: '6.1' },
    nonce: new Uint8Array(16).fill(7),
  };
  const devices = await Promise.all(
    Array.from({ length: inFlight }, async () => {
      const source = await createGrpcSource({
        address: server.address,
        caFile: undefined,
        key: generateKeyPair(),
        classId: 'bench',
        callTimeoutMs: 30_000,
        maxMessageBytes: 1 << 22,
        now: () => new Date(),
      });
      // One signal per device, as each agent has its own.
      const signal = new AbortController().signal;
      await source.checkIn(status, signal);
      return { source, signal };
    }),
  );
  const ours = await rate(async (worker) => {
    const device = devices[worker];
    await device?.source.checkIn(status, device.signal);
  });
  for (const device of devices) device.source.close();
  await server.close();
  report(
    `device check-in (${inFlight} in flight, ${calls} calls)`,
    { label: 'pendulum CheckIn', value: ours, unit: 'calls/s' },
    { label: 'bare grpc-js echo', value: baseline },
    true,
  );
}
