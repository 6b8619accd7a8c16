// The denial-of-service attack (Uptane): oversized messages and floods of
// unauthenticated streams. The server refuses a stranger on its headers,
// before it reads its database, a payload or a signature, holds its message
// limit before it parses anything, and a legitimate device still updates
// while the flood lasts. The stream and connection limits against clients
// that break them: denial-of-service-limits.test.ts.
import { randomBytes, randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import { join } from 'node:path';
import { create, type DescMethod, fromBinary, toBinary } from '@bufbuild/protobuf';
import { type Client as GrpcClient, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckInRequestSchema,
  DeviceService,
  DownloadRequestSchema,
} from '../../src/gen/pendulum/v1/device_pb.js';
import { FleetService } from '../../src/gen/pendulum/v1/fleet_pb.js';
import { PublisherService } from '../../src/gen/pendulum/v1/publisher_pb.js';
import { costlyCheckIn } from '../support/costly-request.js';
import { makeDevice } from '../support/device.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { type Flood, type FloodResult, startFlood } from '../support/flood.js';
import { makeImage, sha256Hex } from '../support/images.js';
import { type CallKind, rawCall, rawChannel } from '../support/raw-calls.js';
import { recordStoreCalls } from '../support/store-calls.js';
import { makeTempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;
const channels: GrpcClient[] = [];

beforeAll(async () => {
  dir = await makeTempDir('dos');
  // The shipped limits: nothing here is tuned for the attack.
  fleet = await startFleet(dir.path);
});
afterAll(async () => {
  for (const channel of channels.splice(0)) channel.close();
  await fleet.close();
  await dir.remove();
});

// channel opens a channel with a TCP connection of its own, closed after the file.
function channel(): GrpcClient {
  const opened = rawChannel(fleet.address);
  channels.push(opened);
  return opened;
}

const pathOf = (method: DescMethod) => `/${method.parent.typeName}/${method.name}`;

// Tokens a stranger may bring: none, something else, or one shaped like the
// server's own (which costs the one database read that is the authentication).
const forged = (prefix: 'pdd_' | 'pdl_') => prefix + randomBytes(32).toString('base64url');
const strangerTokens = (prefix: 'pdd_' | 'pdl_') =>
  [
    ['no token', undefined, []],
    ['a token of another shape', 'let-me-in', []],
    [
      'a forged token',
      forged(prefix),
      [prefix === 'pdd_' ? 'tokens.findDeviceToken' : 'tokens.findApiToken'],
    ],
  ] as const;

// Every method that needs a caller, each with an empty (valid) request.
const guardedMethods = [DeviceService, PublisherService, FleetService]
  .flatMap((service) => service.methods as DescMethod[])
  .filter((method) => method.localName !== 'authenticate')
  .map((method) => ({
    method,
    kind: method.methodKind as CallKind,
    request: Buffer.from(toBinary(method.input, create(method.input))),
    prefix:
      method.parent.typeName === DeviceService.typeName ? ('pdd_' as const) : ('pdl_' as const),
  }));

describe('unauthenticated calls', () => {
  it('are refused before any database read, payload read or signature check', async () => {
    const recorded = recordStoreCalls(fleet.server.context);
    try {
      const via = channel();
      for (const { method, kind, request, prefix } of guardedMethods) {
        for (const [what, token, reads] of strangerTokens(prefix)) {
          recorded.clear();
          const outcome = await rawCall(via, pathOf(method), kind, [request], token);
          expect({ method: method.name, what, code: outcome.code }).toEqual({
            method: method.name,
            what,
            code: status.UNAUTHENTICATED,
          });
          expect(outcome.messages).toBe(0);
          // Refused on its headers, the token lookup (when the token could be one) aside:
          // no handler ran, so nothing was read, no payload opened, no signature checked.
          expect({ method: method.name, what, calls: recorded.calls }).toEqual({
            method: method.name,
            what,
            calls: reads,
          });
        }
      }
    } finally {
      recorded.restore();
    }
  });

  it('are refused without decoding their request, however costly it would be to decode', async () => {
    const { max_message } = fleet.server.context.config;
    const request = costlyCheckIn(max_message);
    expect(request.length).toBeLessThanOrEqual(max_message);
    expect(request.length).toBeGreaterThan(max_message - 1024);
    let started = performance.now();
    const decoded = fromBinary(CheckInRequestSchema, request);
    const decodeMs = performance.now() - started;
    expect(Object.keys(decoded.status?.inventory ?? {}).length).toBeGreaterThan(500_000);
    const via = channel();
    const attempts = 5;
    started = performance.now();
    for (let i = 0; i < attempts; i++) {
      const outcome = await rawCall(
        via,
        pathOf(DeviceService.method.checkIn),
        'unary',
        [request],
        forged('pdd_'),
      );
      expect(outcome.code).toBe(status.UNAUTHENTICATED);
    }
    const refusedMs = (performance.now() - started) / attempts;
    console.log(
      `${(request.length / MiB).toFixed(1)} MiB check-in: decoding takes ${decodeMs.toFixed(0)} ms, refusing it unauthenticated ${refusedMs.toFixed(0)} ms`,
    );
    expect(refusedMs).toBeLessThan(decodeMs / 2);
  });
});

describe('oversized messages', () => {
  it('rejects oversized messages before parsing them', async () => {
    const { max_message } = fleet.server.context.config;
    const oversized = Buffer.alloc(max_message + 1, 0x0a);
    const tooLarge = `larger than max (${max_message + 1} vs ${max_message})`;
    const deviceToken = (await fleet.newDevice()).token;
    const adminToken = fleet.server.adminToken;
    const via = channel();
    const recorded = recordStoreCalls(fleet.server.context);
    const send = async (method: DescMethod, kind: CallKind, token: string | undefined) => {
      recorded.clear();
      const outcome = await rawCall(via, pathOf(method), kind, [oversized], token);
      return {
        method: method.name,
        code: outcome.code,
        details: outcome.details,
        calls: [...recorded.calls],
      };
    };
    try {
      // A stranger is refused on its headers: not a byte of the message is read.
      for (const [method, kind] of [
        [DeviceService.method.checkIn, 'unary'],
        [DeviceService.method.download, 'server_streaming'],
        [PublisherService.method.publishRelease, 'unary'],
        [PublisherService.method.uploadPayload, 'client_streaming'],
      ] as const) {
        expect(await send(method, kind, undefined)).toMatchObject({
          method: method.name,
          code: status.UNAUTHENTICATED,
          calls: [],
        });
      }
      // The one open method, and callers who are let in, meet the limit at the
      // message's length prefix: grpc-js reads no further, nothing decodes it.
      expect(await send(DeviceService.method.authenticate, 'unary', undefined)).toEqual({
        method: 'Authenticate',
        code: status.RESOURCE_EXHAUSTED,
        details: expect.stringContaining(tooLarge),
        calls: [],
      });
      expect(await send(DeviceService.method.checkIn, 'unary', deviceToken)).toEqual({
        method: 'CheckIn',
        code: status.RESOURCE_EXHAUSTED,
        details: expect.stringContaining(tooLarge),
        calls: ['tokens.findDeviceToken', 'devices.get'],
      });
      expect(
        await send(PublisherService.method.uploadPayload, 'client_streaming', adminToken),
      ).toEqual({
        method: 'UploadPayload',
        code: status.RESOURCE_EXHAUSTED,
        details: expect.stringContaining(tooLarge),
        calls: ['tokens.findApiToken'],
      });
    } finally {
      recorded.restore();
    }
  });
});

describe('a flood of unauthenticated streams', () => {
  it('survives 10,000 unauthenticated streams: every one refused, and a legitimate device still updates', async () => {
    const device = await makeDevice(join(dir.path, 'device'), fleet);
    await device.settle();
    const deviceId = await device.deviceId();
    const image = makeImage('2.0.0-flood');
    await fleet.publish(image, { version: '2.0.0-flood', sequence: 2 });
    const { context } = fleet.server;
    const { db } = context.store;
    const before = await rows(db);

    // Count the token lookups that found nothing: the forged tokens, one each.
    const tokens = context.store.tokens;
    const findDeviceToken = tokens.findDeviceToken;
    let lookupsMissed = 0;
    tokens.findDeviceToken = async (...args) => {
      const found = await findDeviceToken(...args);
      if (found === undefined) lookupsMissed++;
      return found;
    };
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 20);
    const connections = 100;
    let flood: Flood | undefined;
    let result: FloodResult;
    let deviceMs: number;
    try {
      // From a process of its own, like an attacker elsewhere: this process is the server's.
      flood = await startFlood({
        address: fleet.address,
        connections,
        inFlightPerConnection: 25,
        minimum: 10_000,
        download: toBinary(
          DownloadRequestSchema,
          create(DownloadRequestSchema, {
            deploymentId: randomUUID(),
            payloadId: sha256Hex(image),
          }),
        ),
        checkIn: toBinary(
          CheckInRequestSchema,
          create(CheckInRequestSchema, { nonce: randomBytes(16) }),
        ),
      });
      const started = performance.now();
      await device.settle();
      deviceMs = performance.now() - started;
      result = await flood.stop();
    } finally {
      clearInterval(sampler);
      tokens.findDeviceToken = findDeviceToken;
      flood?.kill();
    }
    const rssAfter = process.memoryUsage().rss;
    console.log(
      `flood: ${result.sent} unauthenticated calls on ${connections} connections in ${seconds(result.ms)} (${Math.round(result.sent / (result.ms / 1000))}/s); ` +
        `the device updated in ${seconds(deviceMs)} meanwhile; ` +
        `server process RSS ${mib(rssBefore)} before, ${mib(rssPeak)} peak, ${mib(rssAfter)} after; flooder ${mib(result.maxRssBytes)}`,
    );

    expect(result.sent).toBeGreaterThanOrEqual(10_000);
    expect(result.codes).toEqual({ [status.UNAUTHENTICATED]: result.sent });
    expect(result.messages).toBe(0);
    // One lookup per forged token, and none for a call with no token or a token of another shape.
    expect(lookupsMissed).toBe(result.forged);

    const journal = await device.journal();
    expect(journal.committed).toEqual({ slot: 'B', version: '2.0.0-flood', sequence: 2 });
    expect(await device.slotDigest('B', image.length)).toBe(sha256Hex(image));

    // The flood left nothing behind: every row written meanwhile is the device's.
    const after = await rows(db);
    expect(after.devices).toEqual(before.devices);
    const added = (key: 'deviceTokens' | 'deployments' | 'audit') =>
      new Set(after[key].slice(before[key].length));
    expect(added('deviceTokens')).toEqual(new Set([deviceId]));
    expect(added('deployments')).toEqual(new Set([deviceId]));
    expect(added('audit')).toEqual(new Set([`device:${deviceId}`]));
  }, 60_000);
});

describe('streams that never send their request', () => {
  it('answers 10,000 opened at once without a token, holding none of them open', async () => {
    // 100 connections, each with as many streams as the server allows one.
    const connections = 100;
    const perConnection = fleet.server.context.config.max_streams_per_connection;
    const sessions = Array.from({ length: connections }, () =>
      http2.connect(`http://127.0.0.1:${fleet.server.port}`),
    );
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    try {
      const answers = await Promise.all(
        sessions.flatMap((session) =>
          Array.from(
            { length: perConnection },
            () =>
              new Promise<string>((resolve) => {
                const stream = session.request(
                  {
                    ':method': 'POST',
                    ':path': pathOf(DeviceService.method.download),
                    'content-type': 'application/grpc',
                    te: 'trailers',
                  },
                  { endStream: false },
                );
                stream.on('response', (headers) => {
                  resolve(String(headers['grpc-status']));
                  stream.close();
                });
                stream.on('error', (error) => resolve(error.message));
                stream.on('close', () => resolve('closed unanswered'));
              }),
          ),
        ),
      );
      const ms = performance.now() - started;
      console.log(
        `${answers.length} streams without a request: all answered in ${seconds(ms)}; server process RSS ${mib(rssBefore)} before, ${mib(process.memoryUsage().rss)} after`,
      );
      expect(answers).toHaveLength(10_000);
      expect(new Set(answers)).toEqual(new Set([String(status.UNAUTHENTICATED)]));
    } finally {
      for (const session of sessions) session.destroy();
    }
  }, 30_000);
});

// rows are what a caller could write: the devices, and who owns each device
// token, deployment and audit entry, oldest first.
async function rows(db: Fleet['server']['context']['store']['db']) {
  const devices = await db.selectFrom('devices').select('id').orderBy('id').execute();
  const deviceTokens = await db
    .selectFrom('device_tokens')
    .select('device_id')
    .orderBy('expires_at')
    .execute();
  const deployments = await db
    .selectFrom('deployments')
    .select('device_id')
    .orderBy('created_at')
    .execute();
  const audit = await db.selectFrom('audit_log').select('actor').orderBy('id').execute();
  return {
    devices: devices.map((row) => row.id),
    deviceTokens: deviceTokens.map((row) => row.device_id),
    deployments: deployments.map((row) => row.device_id),
    audit: audit.map((row) => row.actor),
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${Math.round(bytes / MiB)} MiB`;
