// In-test DeviceService and PublisherService behind the real bridge, on a real
// loopback server, with a recorder of what the server side saw.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GenService } from '@bufbuild/protobuf/codegenv2';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import type { Client as GrpcClient, Metadata } from '@grpc/grpc-js';
import { type ErrorCode, PendulumError } from '../../src/errors.js';
import { DeviceService } from '../../src/gen/pendulum/v1/device_pb.js';
import { PublisherService } from '../../src/gen/pendulum/v1/publisher_pb.js';
import { bearer, bearerToken } from '../../src/rpc/auth.js';
import { createClient } from '../../src/rpc/client.js';
import { createServer } from '../../src/rpc/gate.js';
import { addService } from '../../src/rpc/server.js';
import type { CallContext, ServiceImpl } from '../../src/rpc/types.js';
import { connect, type Deferred, deferred, type Listening, listen } from './harness.js';

export const MiB = 1024 * 1024;

// Recorder holds what the server side saw; reset it between tests.
export interface Recorder {
  handlerCalls: number;
  internalErrors: Array<{ error: unknown; path: string }>;
  // How many messages each endless download has produced.
  readonly produced: Map<string, number>;
  // Resolved when the handler of the call named `id` has started.
  started(id: string): Deferred<void>;
  // Resolved with the abort reason when the call named `id` sees ctx.signal abort.
  aborted(id: string): Deferred<unknown>;
  // Resolved when the handler of the call named `id` has returned or thrown.
  finished(id: string): Deferred<void>;
  reset(): void;
}

// createRecorder makes an empty Recorder.
export function createRecorder(): Recorder {
  const started = new Map<string, Deferred<void>>();
  const aborted = new Map<string, Deferred<unknown>>();
  const finished = new Map<string, Deferred<void>>();
  const entry = <T>(map: Map<string, Deferred<T>>, id: string): Deferred<T> => {
    let found = map.get(id);
    if (found === undefined) {
      found = deferred<T>();
      map.set(id, found);
    }
    return found;
  };
  const recorder: Recorder = {
    handlerCalls: 0,
    internalErrors: [],
    produced: new Map(),
    started: (id) => entry(started, id),
    aborted: (id) => entry(aborted, id),
    finished: (id) => entry(finished, id),
    reset() {
      recorder.handlerCalls = 0;
      recorder.internalErrors = [];
      recorder.produced.clear();
      started.clear();
      aborted.clear();
      finished.clear();
    },
  };
  return recorder;
}

// watch records that the call named `id` started, and when its signal aborts.
function watch(recorder: Recorder, id: string, ctx: CallContext<string>): void {
  recorder.started(id).resolve();
  ctx.signal.addEventListener('abort', () => recorder.aborted(id).resolve(ctx.signal.reason), {
    once: true,
  });
}

// untilAborted rejects with the signal's reason once it aborts.
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

// deviceService behaves by request: checkIn by status.agentState, download and
// report by deployment_id (see each branch).
export function deviceService(recorder: Recorder): ServiceImpl<DeviceMethods, string> {
  return {
    async authenticate(request) {
      recorder.handlerCalls++;
      return {
        token: `token-for-${request.classId}`,
        deviceId: 'device-1',
        expiresIn: durationFromMs(60_000),
      };
    },
    async checkIn(request, ctx) {
      recorder.handlerCalls++;
      const state = request.status?.agentState ?? '';
      if (state.startsWith('fail:')) {
        const code = state.slice('fail:'.length) as ErrorCode;
        throw new PendulumError(code, `refused with ${code}: café ✓ "quoted"`, {
          context: { field: 'status' },
        });
      }
      if (state === 'crash') throw new Error('connect ECONNREFUSED postgres://admin:hunter2@db');
      return {
        offer: { deploymentId: `${ctx.principal}:${request.status?.installedVersion ?? ''}` },
        pollInterval: durationFromMs(30_000),
      };
    },
    async *download(request, ctx) {
      recorder.handlerCalls++;
      const id = request.deploymentId;
      watch(recorder, id, ctx);
      try {
        if (id.startsWith('many')) {
          const count = Number(request.payloadId);
          for (let i = 0; i < count; i++) {
            yield {
              offset: BigInt(i * MiB) + request.offset,
              data: new Uint8Array(MiB).fill(i & 0xff),
            };
          }
          return;
        }
        if (id.startsWith('endless')) {
          for (let i = 0; ; i++) {
            recorder.produced.set(id, i + 1);
            yield { offset: BigInt(i * 64 * 1024), data: new Uint8Array(64 * 1024) };
          }
        }
        if (id === 'fail-mid') {
          for (let i = 0; i < 3; i++) yield { offset: BigInt(i), data: new Uint8Array([i]) };
          throw new PendulumError(
            'DIGEST_MISMATCH',
            'payload digest does not match what was stored',
          );
        }
        if (id === 'crash-mid') {
          yield { offset: 0n, data: new Uint8Array([1]) };
          throw new TypeError('cannot read properties of undefined');
        }
        throw new PendulumError('NOT_FOUND', `no deployment ${id}`);
      } finally {
        recorder.finished(id).resolve();
      }
    },
    async report(request, ctx) {
      recorder.handlerCalls++;
      const id = request.deploymentId;
      watch(recorder, id, ctx);
      try {
        if (id.startsWith('hang-native')) await sleep(60_000, undefined, { signal: ctx.signal });
        else if (id.startsWith('hang')) await untilAborted(ctx.signal);
        return {};
      } finally {
        recorder.finished(id).resolve();
      }
    },
    // Not exercised by the bridge tests: one heartbeat, then the end.
    async *watch() {
      recorder.handlerCalls++;
      yield { event: { case: 'heartbeat', value: {} } };
    },
  };
}

type DeviceMethods = typeof DeviceService extends GenService<infer S> ? S : never;

// publisherService checks an upload's digest and size like the real one; the
// header digest "reject-early" refuses it after the header.
export function publisherService(recorder: Recorder): ServiceImpl<PublisherMethods, string> {
  return {
    async uploadPayload(requests, ctx) {
      recorder.handlerCalls++;
      let header: { sha256: string; size: bigint } | undefined;
      let id = 'upload';
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const request of requests) {
          if (request.part.case === 'header') {
            header = request.part.value;
            id = header.sha256;
            watch(recorder, id, ctx);
            if (id === 'reject-early')
              throw new PendulumError('PERMISSION_DENIED', 'this token may not upload');
          } else if (request.part.case === 'chunk') {
            if (header === undefined)
              throw new PendulumError('INVALID_ARGUMENT', 'chunk before header');
            hash.update(request.part.value);
            size += request.part.value.length;
          }
        }
        if (header === undefined) throw new PendulumError('INVALID_ARGUMENT', 'no header');
        const digest = hash.digest('hex');
        if (digest !== header.sha256)
          throw new PendulumError('DIGEST_MISMATCH', `payload is ${digest}`);
        if (BigInt(size) !== header.size)
          throw new PendulumError('SIZE_MISMATCH', `payload is ${size} bytes`);
        return { payloadId: digest, size: BigInt(size), created: true };
      } finally {
        recorder.finished(id).resolve();
      }
    },
    async publishRelease() {
      throw new PendulumError('NOT_FOUND', 'not in this test');
    },
    async listReleases() {
      throw new PendulumError('NOT_FOUND', 'not in this test');
    },
    async putTrustRoot() {
      throw new PendulumError('NOT_FOUND', 'not in this test');
    },
  };
}

type PublisherMethods = typeof PublisherService extends GenService<infer S> ? S : never;

// A running bridge: server, recorder, and typed clients on channels it closes.
export interface Bridge {
  readonly listening: Listening;
  readonly recorder: Recorder;
  deviceClient(token?: string): ReturnType<typeof createClient<DeviceMethods>>;
  publisherClient(token?: string): ReturnType<typeof createClient<PublisherMethods>>;
  // channelTo opens a channel to any address; closeChannels closes it with the others.
  channelTo(address: string): GrpcClient;
  closeChannels(): void;
  close(): Promise<void>;
}

// startBridge serves both services; the token "good" is a device, "explode"
// makes authorize crash, anything else is refused. Authenticate needs no token.
// `beforeReply` is the bridge's option of that name.
export async function startBridge(beforeReply?: () => Promise<void>): Promise<Bridge> {
  const recorder = createRecorder();
  const server = createServer();
  const authorize = async (method: { name: string }, metadata: Metadata) => {
    if (method.name === 'Authenticate') return 'anonymous';
    const token = bearerToken(metadata);
    if (token === 'good') return 'device-1';
    if (token === 'explode') throw new Error('token store is down');
    throw new PendulumError('UNAUTHENTICATED', 'missing or unknown token');
  };
  const onInternalError = (error: unknown, path: string) => {
    recorder.internalErrors.push({ error, path });
  };
  const options = {
    authorize,
    onInternalError,
    ...(beforeReply === undefined ? {} : { beforeReply }),
  };
  addService(server, DeviceService, deviceService(recorder), options);
  addService(server, PublisherService, publisherService(recorder), options);
  const listening = await listen(server);
  const channels: GrpcClient[] = [];
  const channelTo = (address: string) => {
    const opened = connect(address);
    channels.push(opened);
    return opened;
  };
  return {
    listening,
    recorder,
    deviceClient: (token = 'good') =>
      createClient(DeviceService, channelTo(listening.address), () => bearer(token)),
    publisherClient: (token = 'good') =>
      createClient(PublisherService, channelTo(listening.address), () => bearer(token)),
    channelTo,
    closeChannels() {
      for (const opened of channels.splice(0)) opened.close();
    },
    async close() {
      for (const opened of channels.splice(0)) opened.close();
      await listening.close();
    },
  };
}
