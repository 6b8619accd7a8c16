// Replies wait for durability (ServeOptions.beforeReply, the store's group
// commit in the server): no caller hears of state a power cut could take back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PendulumError } from '../../src/errors.js';
import { pause } from './harness.js';
import { type Bridge, startBridge } from './services.js';

let bridge: Bridge;

// held is a durability the test settles by hand.
function held() {
  let resolve: () => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  // A rejection nobody awaits yet is not an unhandled one.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

// The durability the next reply waits for.
let durable = held();

beforeAll(async () => {
  bridge = await startBridge(() => durable.promise);
});
afterEach(() => {
  bridge.recorder.reset();
  bridge.closeChannels();
});
afterAll(async () => {
  durable.resolve();
  await bridge.close();
});

// settledWithin tells whether `promise` settles within `ms`.
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await pause(ms);
  return settled;
}

describe('replies wait for what the handler may have read to be durable', () => {
  it('holds a unary reply until then', async () => {
    durable = held();
    const reply = bridge.deviceClient().checkIn({ status: { installedVersion: '1.0' } });
    expect(await settledWithin(reply, 300)).toBe(false);
    expect(bridge.recorder.handlerCalls).toBe(1);
    durable.resolve();
    expect((await reply).offer?.deploymentId).toBe('device-1:1.0');
  });

  it("holds a stream's first message until then", async () => {
    durable = held();
    const stream = bridge
      .deviceClient()
      .download({ deploymentId: 'many-held', payloadId: '2' })
      [Symbol.asyncIterator]();
    const first = stream.next();
    expect(await settledWithin(first, 300)).toBe(false);
    durable.resolve();
    expect((await first).done).toBe(false);
    expect((await stream.next()).done).toBe(false);
    expect((await stream.next()).done).toBe(true);
  });

  it('answers STORAGE_FAILED, not the reply, when the store cannot make it durable', async () => {
    durable = held();
    const reply = bridge.deviceClient().checkIn({ status: { installedVersion: '1.0' } });
    durable.reject(new PendulumError('STORAGE_FAILED', 'cannot sync the database journal'));
    await expect(reply).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
  });
});
