// The denial-of-service attack (Uptane), continued: the limits on streams
// per connection and on connections hold against clients that break them, and
// the server keeps serving everyone else. Each test runs its own server with
// small limits; test/integration/denial-of-service.test.ts has the floods.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { create, type DescMethod, toBinary } from '@bufbuild/protobuf';
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckInRequestSchema, DeviceService } from '../../src/gen/pendulum/v1/device_pb.js';
import {
  PublisherService,
  UploadPayloadRequestSchema,
} from '../../src/gen/pendulum/v1/publisher_pb.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import { rawCall, rawChannel } from '../support/raw-calls.js';
import { h2, type RawConnection, rawConnect } from '../support/raw-http2.js';
import { makeTempDir } from '../support/temp-dir.js';
import { pause, until } from '../support/until.js';

let dir: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  dir = await makeTempDir('dos-limits');
});
afterAll(async () => {
  await dir.remove();
});

const pathOf = (method: DescMethod) => `/${method.parent.typeName}/${method.name}`;

describe('the stream limit of a connection', () => {
  let limited: Fleet;
  beforeAll(async () => {
    limited = await startFleet(join(dir.path, 'limited'), {
      config: { max_streams_per_connection: 4 },
    });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('refuses the streams a client opens beyond it, and the connection of a client that breaks it knowingly', async () => {
    // A device's own token, so each stream is let in and then held open waiting for its request.
    const headers = { authorization: `Bearer ${(await limited.newDevice()).token}` };
    const download = pathOf(DeviceService.method.download);
    const unaware = await rawConnect(limited.server.port, { ackSettings: false });
    const knowing = await rawConnect(limited.server.port, { ackSettings: true });
    try {
      expect(unaware.serverSettings.get(h2.settingsMaxConcurrentStreams)).toBe(4);
      const streams = unaware.open(download, 8, headers);
      await until(() => unaware.resets.size === 4);
      // Before the client acknowledges the setting: the four beyond it are refused, the rest held.
      expect(Object.fromEntries(unaware.resets)).toEqual(
        Object.fromEntries(streams.slice(4).map((id) => [id, h2.refusedStream])),
      );
      expect(unaware.answered.size).toBe(0);
      expect(unaware.closed()).toBe(false);

      // After it: breaking the limit is a protocol error, and the connection goes.
      knowing.open(download, 5, headers);
      await until(() => knowing.closed());
      expect(knowing.goaway()?.code).toBe(h2.protocolError);
    } finally {
      unaware.close();
      knowing.close();
    }
  });

  it('makes the calls a gRPC client opens beyond it wait for a free stream', async () => {
    const token = limited.server.adminToken;
    const puts = { started: 0 };
    const payloads = limited.server.context.payloads;
    const put = payloads.put;
    payloads.put = (...args) => {
      puts.started++;
      return put(...args);
    };
    const via = rawChannel(limited.address);
    const uploads = Array.from({ length: 6 }, () => {
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${token}`);
      const call = via.makeClientStreamRequest(
        pathOf(PublisherService.method.uploadPayload),
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        metadata,
        () => undefined,
      );
      call.on('error', () => undefined);
      // A header and then nothing: the upload stays open on the server.
      call.write(
        Buffer.from(
          toBinary(
            UploadPayloadRequestSchema,
            create(UploadPayloadRequestSchema, {
              part: {
                case: 'header',
                value: { sha256: randomBytes(32).toString('hex'), size: 10n },
              },
            }),
          ),
        ),
      );
      return call;
    });
    try {
      await until(() => puts.started === 4);
      await pause(500);
      // One connection, four streams: the other two calls wait in the client.
      expect(puts.started).toBe(4);
      uploads[0]?.cancel();
      uploads[1]?.cancel();
      await until(() => puts.started === 6);
    } finally {
      for (const call of uploads) call.cancel();
      via.close();
      payloads.put = put;
    }
  });
});

describe('the connection limit', () => {
  it('closes connections beyond it as they arrive, keeps serving the open ones, and takes new ones once some close', async () => {
    const capped = await startFleet(join(dir.path, 'capped'), { config: { max_connections: 4 } });
    const opened: RawConnection[] = [];
    try {
      // The fleet's own client holds one connection.
      await capped.publisher.listReleases({});
      for (let i = 0; i < 4; i++)
        opened.push(await rawConnect(capped.server.port, { ackSettings: true }));
      expect(opened.map((c) => c.closed())).toEqual([false, false, false, true]);
      await capped.publisher.listReleases({});
      const stranger = async () => {
        const via = rawChannel(capped.address);
        try {
          const request = Buffer.from(toBinary(CheckInRequestSchema, create(CheckInRequestSchema)));
          return (
            await rawCall(
              via,
              pathOf(DeviceService.method.checkIn),
              'unary',
              [request],
              undefined,
              2000,
            )
          ).code;
        } finally {
          via.close();
        }
      };
      expect(await stranger()).toBe(status.UNAVAILABLE);
      opened[0]?.close();
      await until(async () => (await stranger()) === status.UNAUTHENTICATED);
    } finally {
      for (const connection of opened) connection.close();
      await capped.close();
    }
  });
});
