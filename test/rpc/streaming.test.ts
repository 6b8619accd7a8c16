// Server streaming through the bridge: order, back-pressure, cancellation and
// errors mid-stream, against a real grpc-js server.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PendulumError } from '../../src/errors.js';
import { collect, failure, pause, within } from './harness.js';
import { type Bridge, MiB, startBridge } from './services.js';

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

describe('server streaming', () => {
  it('delivers many 1 MiB messages complete and in order', async () => {
    const count = 48;
    const messages = await collect(
      bridge.deviceClient().download({
        deploymentId: 'many-ordered',
        payloadId: String(count),
        offset: 0n,
      }),
    );
    expect(messages).toHaveLength(count);
    messages.forEach((message, i) => {
      expect(message.offset).toBe(BigInt(i * MiB));
      expect(message.data.length).toBe(MiB);
      expect(message.data[0]).toBe(i & 0xff);
      expect(message.data[MiB - 1]).toBe(i & 0xff);
    });
  });

  it('does not let the handler run ahead of a client that is not reading', async () => {
    const iterator = bridge
      .deviceClient()
      .download({ deploymentId: 'endless-slow' })
      [Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    await pause(300);
    // 64 KiB messages: without back-pressure the generator would have made
    // thousands by now; with it, only what the transport windows hold.
    expect(bridge.recorder.produced.get('endless-slow')).toBeLessThan(256);
    const second = await iterator.next();
    expect(second.value?.offset).toBe(64n * 1024n);
    await iterator.return?.();
    await within(bridge.recorder.aborted('endless-slow').promise, 5000, "the server's ctx.signal");
  });

  it('cancels the server when the client stops iterating', async () => {
    let seen = 0;
    for await (const _ of bridge.deviceClient().download({ deploymentId: 'endless-break' })) {
      if (++seen === 5) break;
    }
    expect(seen).toBe(5);
    const reason = await within(
      bridge.recorder.aborted('endless-break').promise,
      5000,
      "the server's ctx.signal",
    );
    expect(reason).toBeInstanceOf(PendulumError);
    await within(
      bridge.recorder.finished('endless-break').promise,
      5000,
      'the handler generator to close',
    );
    expect(bridge.recorder.internalErrors).toEqual([]);
  });

  it('cancels the server when the client aborts its signal, and rejects with CANCELLED', async () => {
    const controller = new AbortController();
    let seen = 0;
    const error = await failure(
      (async () => {
        for await (const _ of bridge
          .deviceClient()
          .download({ deploymentId: 'endless-abort' }, { signal: controller.signal })) {
          if (++seen === 3) controller.abort();
        }
      })(),
    );
    expect(error.code).toBe('CANCELLED');
    await within(bridge.recorder.aborted('endless-abort').promise, 5000, "the server's ctx.signal");
    await within(
      bridge.recorder.finished('endless-abort').promise,
      5000,
      'the handler generator to close',
    );
  });

  it('delivers the messages before a handler error, then the error with its code', async () => {
    const received: number[] = [];
    const error = await failure(
      (async () => {
        for await (const message of bridge.deviceClient().download({ deploymentId: 'fail-mid' })) {
          received.push(Number(message.offset));
        }
      })(),
    );
    expect(received).toEqual([0, 1, 2]);
    expect(error.code).toBe('DIGEST_MISMATCH');
    expect(error.message).toBe('payload digest does not match what was stored');
  });

  it('turns a crash mid-stream into INTERNAL and reports it', async () => {
    const error = await failure(
      collect(bridge.deviceClient().download({ deploymentId: 'crash-mid' })),
    );
    expect(error.code).toBe('INTERNAL');
    expect(error.message).not.toContain('undefined');
    expect(bridge.recorder.internalErrors.map((e) => e.path)).toEqual([
      '/pendulum.v1.DeviceService/Download',
    ]);
  });

  it('refuses an unauthenticated stream before the handler runs', async () => {
    const error = await failure(
      collect(bridge.deviceClient('stolen').download({ deploymentId: 'many-x', payloadId: '1' })),
    );
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(bridge.recorder.handlerCalls).toBe(0);
  });
});
