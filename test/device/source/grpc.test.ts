// The gRPC update source's Watch stream against a real server: a check-in and
// a stream that both need a token authenticate once between them (two at
// once would race the server's replay guard), and the stream carries a
// heartbeat, then a bare request to check in when a rollout is made.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGrpcSource } from '../../../src/device/source/grpc.js';
import type { WatchEvent } from '../../../src/device/source/source.js';
import { generateKeyPair } from '../../../src/trust/index.js';
import { type Fleet, startFleet, testClass } from '../../support/fleet.js';
import { makeImage } from '../../support/images.js';
import { recordStoreCalls } from '../../support/store-calls.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { until } from '../../support/until.js';

let dir: { path: string; remove: () => Promise<void> };
let fleet: Fleet;

beforeAll(async () => {
  dir = await makeTempDir('grpc-source');
  fleet = await startFleet(join(dir.path, 'fleet'));
});
afterAll(async () => {
  await fleet.close();
  await dir.remove();
});

const source = () =>
  createGrpcSource({
    address: fleet.address,
    caFile: undefined,
    key: generateKeyPair(),
    classId: testClass,
    callTimeoutMs: 10_000,
    maxMessageBytes: 8 * 1024 * 1024,
    now: () => new Date(),
  });

const status = {
  bootedSlot: 'A' as const,
  installedVersion: '1.0.0',
  committedSequence: 1,
  trustRootVersion: 1,
  agentState: 'idle',
  inventory: {},
};

describe('gRPC source Watch', () => {
  it('shares one authentication between a check-in and a stream that both need a token', async () => {
    const calls = recordStoreCalls(fleet.server.context);
    const device = await source();
    const abort = new AbortController();
    const events: WatchEvent[] = [];
    const watching = (async () => {
      for await (const event of device.watch?.(abort.signal) ?? []) events.push(event);
    })().catch(() => undefined);
    await device.checkIn({ ...status, nonce: new Uint8Array(32) }, abort.signal);
    await until(() => events.length > 0);
    calls.restore();
    expect(calls.calls.filter((c) => c === 'devices.recordAuthentication')).toHaveLength(1);
    abort.abort();
    await watching;
    device.close();
  });

  it('opens with a heartbeat, then asks for a check-in when a rollout is made, carrying nothing else', async () => {
    const device = await source();
    const abort = new AbortController();
    const events: WatchEvent[] = [];
    const watching = (async () => {
      for await (const event of device.watch?.(abort.signal) ?? []) events.push(event);
    })().catch(() => undefined);
    await until(() => events.length > 0);
    expect(events[0]).toEqual({ kind: 'heartbeat', intervalMs: 30_000 });
    await fleet.publish(makeImage('2.0.0', { bytes: 4096 }), { version: '2.0.0', sequence: 2 });
    await until(() => events.length > 1);
    expect(events[1]).toEqual({ kind: 'check-in' });
    abort.abort();
    await watching;
    device.close();
  });
});
