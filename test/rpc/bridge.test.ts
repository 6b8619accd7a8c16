// The gRPC bridge for unary calls (src/rpc/server.ts, client.ts, status.ts): a
// real grpc-js server on a loopback port, in-test services and the typed client.
import { EventEmitter } from 'node:events';
import { durationMs } from '@bufbuild/protobuf/wkt';
import { Metadata, Server, status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { DeviceService } from '../../src/gen/pendulum/v1/device_pb.js';
import { bearer } from '../../src/rpc/auth.js';
import { createClient } from '../../src/rpc/client.js';
import { failure, listen, pause, within } from './harness.js';
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

describe('unary calls', () => {
  it('round-trips a request and response, with the caller the server authorised', async () => {
    const response = await bridge.deviceClient().checkIn({
      status: { installedVersion: '1.2.0', committedSequence: 7n },
    });
    expect(response.offer?.deploymentId).toBe('device-1:1.2.0');
    expect(response.pollInterval && durationMs(response.pollInterval)).toBe(30_000);
  });

  it.each<ErrorCode>([
    'NOT_FOUND',
    'ROLLBACK_REJECTED',
    'SIGNATURE_INVALID',
    'PERMISSION_DENIED',
    'STORAGE_FAILED',
    'UNAVAILABLE',
    'MALFORMED',
    'INTERNAL',
  ])('delivers a %s thrown by a handler with the same code and message', async (code) => {
    const error = await failure(
      bridge.deviceClient().checkIn({ status: { agentState: `fail:${code}` } }),
    );
    expect(error.code).toBe(code);
    expect(error.message).toBe(`refused with ${code}: café ✓ "quoted"`);
    expect(bridge.recorder.internalErrors).toEqual([]);
  });

  it('refuses request bytes that do not decode as INVALID_ARGUMENT, not as a retryable INTERNAL', async () => {
    const channel = bridge.channelTo(bridge.listening.address);
    const metadata = new Metadata();
    metadata.set('authorization', 'Bearer good');
    // Field 1 (status) as a length-delimited field whose length runs past the end.
    const garbage = Buffer.from([0x0a, 0x7f, 0x01]);
    const result = await new Promise<{ code: number; details: string; trailer: string }>(
      (resolve) => {
        channel.makeUnaryRequest(
          '/pendulum.v1.DeviceService/CheckIn',
          (bytes: Buffer) => bytes,
          (bytes: Buffer) => bytes,
          garbage,
          metadata,
          (error) =>
            resolve({
              code: error?.code ?? 0,
              details: error?.details ?? '',
              trailer: String(error?.metadata?.get('pendulum-error-code')[0] ?? ''),
            }),
        );
      },
    );
    expect(result.code).toBe(status.INVALID_ARGUMENT);
    expect(result.trailer).toBe('INVALID_ARGUMENT');
    expect(result.details).toContain('not a valid pendulum.v1.CheckInRequest');
    expect(bridge.recorder.internalErrors).toEqual([]);
  });

  it.each([
    ['unary', '/pendulum.v1.DeviceService/CheckIn'],
    ['server-streaming', '/pendulum.v1.DeviceService/Download'],
  ] as const)('authorises a %s call before decoding its request', async (kind, path) => {
    // Bytes that cannot decode: a caller refused for them was parsed before it was authorised.
    const garbage = Buffer.from([0x0a, 0x7f, 0x01]);
    const code = async (token: string) => {
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${token}`);
      const channel = bridge.channelTo(bridge.listening.address);
      const identity = (bytes: Buffer) => bytes;
      return new Promise<number>((resolve) => {
        if (kind === 'unary') {
          channel.makeUnaryRequest(path, identity, identity, garbage, metadata, (error) =>
            resolve(error?.code ?? status.OK),
          );
        } else {
          const call = channel.makeServerStreamRequest(path, identity, identity, garbage, metadata);
          call.on('data', () => undefined);
          call.on('status', (end) => resolve(end.code));
          call.on('error', () => undefined);
        }
      });
    };
    expect(await code('stolen')).toBe(status.UNAUTHENTICATED);
    expect(await code('good')).toBe(status.INVALID_ARGUMENT);
    expect(bridge.recorder.handlerCalls).toBe(0);
  });

  it('hides a non-Pendulum error behind INTERNAL and reports it on the server', async () => {
    const error = await failure(bridge.deviceClient().checkIn({ status: { agentState: 'crash' } }));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).not.toContain('hunter2');
    expect(bridge.recorder.internalErrors).toHaveLength(1);
    expect(bridge.recorder.internalErrors[0]?.path).toBe('/pendulum.v1.DeviceService/CheckIn');
    expect(String(bridge.recorder.internalErrors[0]?.error)).toContain('ECONNREFUSED');
  });

  it('refuses a caller that authorize rejects, before the handler runs', async () => {
    const error = await failure(bridge.deviceClient('stolen').checkIn({ status: {} }));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(bridge.recorder.handlerCalls).toBe(0);
  });

  it('refuses a call without any token', async () => {
    const client = createClient(DeviceService, bridge.channelTo(bridge.listening.address));
    expect((await failure(client.report({ deploymentId: 'x' }))).code).toBe('UNAUTHENTICATED');
    expect(bridge.recorder.handlerCalls).toBe(0);
  });

  it('reports an authorize function that crashes as an internal error, not as a refusal', async () => {
    const error = await failure(bridge.deviceClient('explode').checkIn({ status: {} }));
    expect(error.code).toBe('INTERNAL');
    expect(bridge.recorder.handlerCalls).toBe(0);
    expect(bridge.recorder.internalErrors).toHaveLength(1);
  });

  it('lets authorize admit some methods without a token', async () => {
    const client = createClient(DeviceService, bridge.channelTo(bridge.listening.address));
    expect((await client.authenticate({ classId: 'gw' })).token).toBe('token-for-gw');
  });

  it('cancels the server handler when the client aborts a call', async () => {
    const controller = new AbortController();
    const call = bridge
      .deviceClient()
      .report({ deploymentId: 'hang-abort' }, { signal: controller.signal });
    await within(bridge.recorder.started('hang-abort').promise, 5000, 'the handler to start');
    controller.abort();
    expect((await failure(call)).code).toBe('CANCELLED');
    await within(bridge.recorder.aborted('hang-abort').promise, 5000, "the server's ctx.signal");
    await within(bridge.recorder.finished('hang-abort').promise, 5000, 'the handler to return');
    expect(bridge.recorder.internalErrors).toEqual([]);
  });

  it('does not report a handler that stops on its cancelled signal as a server bug', async () => {
    // Node APIs given ctx.signal throw their own AbortError, not a PendulumError.
    const controller = new AbortController();
    const call = bridge
      .deviceClient()
      .report({ deploymentId: 'hang-native' }, { signal: controller.signal });
    await within(bridge.recorder.started('hang-native').promise, 5000, 'the handler to start');
    controller.abort();
    expect((await failure(call)).code).toBe('CANCELLED');
    await within(bridge.recorder.finished('hang-native').promise, 5000, 'the handler to return');
    await pause(20);
    expect(bridge.recorder.internalErrors).toEqual([]);
  });

  it('does not start a call whose signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await failure(
      bridge.deviceClient().report({ deploymentId: 'x' }, { signal: controller.signal }),
    );
    expect(error.code).toBe('CANCELLED');
  });

  it('aborts the server handler when the deadline passes', async () => {
    const error = await failure(
      bridge.deviceClient().report({ deploymentId: 'hang-deadline' }, { timeoutMs: 200 }),
    );
    expect(error.context.grpc_status).toBe('DEADLINE_EXCEEDED');
    await within(bridge.recorder.aborted('hang-deadline').promise, 5000, "the server's ctx.signal");
  });

  it('does not pile up abort listeners on a signal shared by many calls', async () => {
    const shutdown = new AbortController();
    const client = bridge.deviceClient();
    for (let i = 0; i < 20; i++)
      await client.report({ deploymentId: `r${i}` }, { signal: shutdown.signal });
    expect(EventEmitter.getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('reports an unreachable server as UNAVAILABLE', async () => {
    const closed = await listen(new Server());
    await closed.close();
    const client = createClient(DeviceService, bridge.channelTo(closed.address), () =>
      bearer('good'),
    );
    const error = await failure(client.checkIn({ status: {} }, { timeoutMs: 5000 }));
    expect(error.code).toBe('UNAVAILABLE');
  });
});
