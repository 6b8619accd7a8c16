// Push with real agents and real servers: a watching device hears of a new
// rollout at once though it polls once an hour, also when the rollout was made
// through another replica; polling alone still delivers; a server at its
// stream limit refuses and the device polls; a server that ends or refuses
// every stream sees a few attempts, never a tight loop; and a server with
// streams open shuts down promptly.
import { join } from 'node:path';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPendulumError } from '../../src/errors.js';
import { DeviceService } from '../../src/gen/pendulum/v1/device_pb.js';
import { bearer } from '../../src/rpc/auth.js';
import { createClient } from '../../src/rpc/client.js';
import { defaultServerConfig } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';
import { makeDevice, type RunningAgent, startAgent, type TestDevice } from '../support/device.js';
import { type Fleet, startFleet, writeTestTimestampKey } from '../support/fleet.js';
import { makeImage } from '../support/images.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

let dir: { path: string; remove: () => Promise<void> };
const agents: RunningAgent[] = [];

beforeAll(async () => {
  dir = await makeTempDir('watch');
});
afterAll(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await dir.remove();
});

// running starts a device's agent and waits until it has checked in and, when
// it watches, opened its stream on `server`.
async function running(
  device: TestDevice,
  server: RunningServer,
  watches = true,
): Promise<{ agent: RunningAgent; deviceId: string }> {
  const before = server.watch.size;
  const agent = startAgent(device);
  agents.push(agent);
  await until(async () => (await device.journal().catch(() => undefined)) !== undefined, 15_000);
  const deviceId = await device.deviceId();
  const store = server.context.store;
  await until(async () => (await store.devices.get(deviceId))?.lastSeenAt != null, 15_000);
  if (watches) await until(() => server.watch.size > before, 15_000);
  return { agent, deviceId };
}

// offered waits until the server has made the device an offer and returns how
// long that took from `since`.
async function offered(fleet: Fleet, deviceId: string, since: number, ms = 10_000) {
  const { deployments } = fleet.server.context.store;
  await until(async () => (await deployments.openForDevice(deviceId)).length > 0, ms);
  return Date.now() - since;
}

// rollOut publishes a release for `classId` and rolls it out; it returns when it asked.
async function rollOut(fleet: Fleet, classId: string, version: string): Promise<number> {
  const releaseId = await fleet.release(makeImage(version, { bytes: 4096 }), {
    version,
    sequence: 2,
    classId,
  });
  const asked = Date.now();
  await fleet.fleet.createRollout({ releaseId, classId: '' });
  return asked;
}

describe('push to a device that polls once an hour', () => {
  let fleet: Fleet;
  let replica: RunningServer;

  beforeAll(async () => {
    fleet = await startFleet(join(dir.path, 'hourly'), {
      config: { poll_interval: '1h', watch_poll_interval: '200ms' },
    });
    // A second replica on the same database and payloads.
    replica = await startServer(
      defaultServerConfig({
        data_dir: join(dir.path, 'hourly', 'server'),
        timestamp_key: await writeTestTimestampKey(join(dir.path, 'hourly')),
        listen: '127.0.0.1:0',
        poll_interval: '1h',
        watch_poll_interval: '200ms',
        admission: 'accept',
      }),
      { log: pino({ level: 'silent' }) },
    );
  });
  afterAll(async () => {
    await replica.close();
    await fleet.close();
  });

  it('gets an offer within two seconds of a rollout, woken by its Watch stream', async () => {
    const device = await makeDevice(join(dir.path, 'hourly', 'pushed'), fleet, {
      classId: 'gw-pushed',
    });
    const { agent, deviceId } = await running(device, fleet.server);
    const latency = await offered(
      fleet,
      deviceId,
      await rollOut(fleet, 'gw-pushed', '2.0.0'),
      5_000,
    );
    expect(latency, `offered ${latency} ms after the rollout`).toBeLessThan(2_000);
    await agent.stop();
  });

  it('is woken by the replica it watches when the rollout was made through another', async () => {
    const device = await makeDevice(join(dir.path, 'hourly', 'other-replica'), fleet, {
      classId: 'gw-replica',
      serverAddress: replica.address,
    });
    const watchedHere = fleet.server.watch.size;
    const { agent, deviceId } = await running(device, replica);
    expect(fleet.server.watch.size).toBe(watchedHere);
    const latency = await offered(
      fleet,
      deviceId,
      await rollOut(fleet, 'gw-replica', '2.0.0'),
      5_000,
    );
    expect(latency, `offered ${latency} ms after the rollout`).toBeLessThan(2_000);
    await agent.stop();
  });
});

describe('polling, and a server at its Watch limit', () => {
  let fleet: Fleet;

  beforeAll(async () => {
    fleet = await startFleet(join(dir.path, 'limited'), {
      config: { poll_interval: '2s', max_watch_streams: 1 },
    });
  });
  afterAll(async () => fleet.close());

  it('delivers an offer by polling alone to a device with watch = false', async () => {
    const device = await makeDevice(join(dir.path, 'limited', 'polling'), fleet, {
      classId: 'gw-polling',
      watch: false,
    });
    const { agent, deviceId } = await running(device, fleet.server, false);
    expect(fleet.server.watch.size).toBe(0);
    await offered(fleet, deviceId, await rollOut(fleet, 'gw-polling', '2.0.0'));
    expect(fleet.server.watch.size).toBe(0);
    await agent.stop();
  });

  it('refuses the stream past max_watch_streams with RESOURCE_EXHAUSTED, and the device updates by polling', async () => {
    const first = await makeDevice(join(dir.path, 'limited', 'first'), fleet, {
      classId: 'gw-limited',
    });
    const holder = await running(first, fleet.server);
    expect(fleet.server.watch.size).toBe(1);

    // Any device past the limit is refused, saying why.
    const { token } = await fleet.newDevice();
    const channel = new GrpcClient(fleet.address, credentials.createInsecure());
    const refusal = await (async () => {
      for await (const _ of createClient(DeviceService, channel, () => bearer(token)).watch({}));
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    channel.close();
    expect(isPendulumError(refusal)).toBe(true);
    expect((refusal as { context: Record<string, unknown> }).context.grpc_status).toBe(
      'RESOURCE_EXHAUSTED',
    );
    expect((refusal as Error).message).toMatch(/\(max_watch_streams\); poll instead/);

    const second = await makeDevice(join(dir.path, 'limited', 'second'), fleet, {
      classId: 'gw-limited',
    });
    const refused = await running(second, fleet.server, false);
    await until(() => refused.agent.stderr().includes('max_watch_streams'), 10_000);
    const asked = await rollOut(fleet, 'gw-limited', '2.0.0');
    await offered(fleet, holder.deviceId, asked);
    await offered(fleet, refused.deviceId, asked, 10_000);
    expect(fleet.server.watch.size).toBeLessThanOrEqual(1);
    await Promise.all([holder.agent.stop(), refused.agent.stop()]);
  });
});

describe('a server that will not keep a stream', () => {
  // countOpens counts the Watch streams a server's hub is asked for.
  function countOpens(server: RunningServer): { count: () => number } {
    const hub = server.watch;
    const open = hub.open.bind(hub);
    let opens = 0;
    hub.open = (device, signal) => {
      opens++;
      return open(device, signal);
    };
    return { count: () => opens };
  }

  it.each([
    ['ends every stream at once', { watch_max_age: 1 }],
    ['refuses every stream', { max_watch_streams: 0 }],
  ])('%s, and sees a few attempts from an agent, not a tight loop', async (name, limits) => {
    const fleet = await startFleet(join(dir.path, name.replace(/ /g, '-')), {
      config: { poll_interval: '1h', ...limits },
    });
    try {
      const opens = countOpens(fleet.server);
      const device = await makeDevice(join(dir.path, name.replace(/ /g, '-'), 'device'), fleet);
      const { agent } = await running(device, fleet.server, false);
      await until(() => opens.count() >= 1, 10_000);
      const first = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      const attempts = opens.count();
      const elapsed = Date.now() - first;
      await agent.stop();
      // watch_min_interval is 1 s: the waits are 1-2 s, 2-4 s, 4-8 s, ...
      // so about 4 s allow the first stream and at most two more.
      expect(attempts, `${attempts} Watch attempts in ${elapsed} ms`).toBeLessThanOrEqual(4);
      expect(attempts).toBeGreaterThanOrEqual(2);
    } finally {
      await fleet.close();
    }
  });
});

describe('shutdown', () => {
  it('ends open Watch streams cleanly and closes promptly', async () => {
    const fleet = await startFleet(join(dir.path, 'shutdown'));
    const channel = new GrpcClient(fleet.address, credentials.createInsecure());
    const streams = await Promise.all(
      [1, 2, 3].map(async () => {
        const { token } = await fleet.newDevice();
        const client = createClient(DeviceService, channel, () => bearer(token));
        const done = (async () => {
          for await (const _ of client.watch({}));
          return 'ended';
        })().catch((error: unknown) => error);
        return { done };
      }),
    );
    await until(() => fleet.server.watch.size === 3);
    const started = Date.now();
    await fleet.close();
    const took = Date.now() - started;
    expect(await Promise.all(streams.map((s) => s.done))).toEqual(['ended', 'ended', 'ended']);
    expect(took, `closed in ${took} ms`).toBeLessThan(1_000);
    channel.close();
  });
});
