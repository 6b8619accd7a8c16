// Authorisation on a call's headers (src/rpc/gate.ts): a refused caller has
// nothing of its request read and holds no stream open, on the real bridge.
import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rawCall } from '../support/raw-calls.js';
import { rawConnect } from '../support/raw-http2.js';
import { pause } from './harness.js';
import { type Bridge, startBridge } from './services.js';

let bridge: Bridge;

beforeAll(async () => {
  bridge = await startBridge();
});
afterEach(() => {
  bridge.recorder.reset();
  bridge.closeChannels();
});
afterAll(async () => {
  await bridge.close();
});

describe('authorisation on headers', () => {
  it('answers a stream that never sends its request, refusing it at once', async () => {
    const connection = await rawConnect(bridge.listening.port, { ackSettings: true });
    try {
      const streams = connection.open('/pendulum.v1.DeviceService/Download', 3);
      for (let waited = 0; connection.answered.size < 3 && waited < 5000; waited += 20)
        await pause(20);
      // Trailers-only responses: the stream is over, not held open waiting for a body.
      expect([...connection.answered].sort()).toEqual(streams);
      expect(bridge.recorder.handlerCalls).toBe(0);
    } finally {
      connection.close();
    }
  });

  it('leaves the request of a refused caller unread, however large', async () => {
    // Above grpc-js's default 4 MiB: read, it would be refused as RESOURCE_EXHAUSTED.
    const large = Buffer.alloc(5 * 1024 * 1024, 0x0a);
    const channel = bridge.channelTo(bridge.listening.address);
    const path = '/pendulum.v1.DeviceService/CheckIn';
    expect((await rawCall(channel, path, 'unary', [large], 'stolen')).code).toBe(
      status.UNAUTHENTICATED,
    );
    expect((await rawCall(channel, path, 'unary', [large], undefined)).code).toBe(
      status.UNAUTHENTICATED,
    );
    expect((await rawCall(channel, path, 'unary', [large], 'good')).code).toBe(
      status.RESOURCE_EXHAUSTED,
    );
    expect(bridge.recorder.handlerCalls).toBe(0);
  });

  it('lets an open method through without a token', async () => {
    const channel = bridge.channelTo(bridge.listening.address);
    const outcome = await rawCall(
      channel,
      '/pendulum.v1.DeviceService/Authenticate',
      'unary',
      [Buffer.alloc(0)],
      undefined,
    );
    expect(outcome.code).toBe(status.OK);
    expect(bridge.recorder.handlerCalls).toBe(1);
  });
});
