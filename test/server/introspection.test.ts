// The real server answers the standard health and reflection services the way
// grpc_health_probe and grpcurl ask them, for every pendulum service.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServerConfig } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';
import { type IntrospectionClient, introspectionClient } from '../support/introspection-client.js';
import { makeTempDir } from '../support/temp-dir.js';

const pendulumServices = [
  'pendulum.v1.DeviceService',
  'pendulum.v1.PublisherService',
  'pendulum.v1.FleetService',
];

let dir: { path: string; remove: () => Promise<void> };
let server: RunningServer;
let client: IntrospectionClient;

beforeAll(async () => {
  dir = await makeTempDir('introspection');
  server = await startServer(
    defaultServerConfig({ data_dir: join(dir.path, 'server'), listen: '127.0.0.1:0' }),
    { log: pino({ level: 'silent' }) },
  );
  client = introspectionClient(server.address);
});
afterAll(async () => {
  client.close();
  await server.close();
  await dir.remove();
});

const check = (service: string) => client.check(service);

describe('health', () => {
  it('answers SERVING for the whole server and for each pendulum service', async () => {
    expect((await check('')).status).toBe('SERVING');
    for (const name of pendulumServices) expect((await check(name)).status).toBe('SERVING');
  });

  it('answers NOT_FOUND for a service the server does not have', async () => {
    await expect(check('pendulum.v1.NoSuchService')).rejects.toMatchObject({ code: 5 });
  });
});

describe('reflection', () => {
  it('lists the device, publisher and fleet services', async () => {
    const names = await client.listServices();
    expect(names).toEqual(expect.arrayContaining([...pendulumServices, 'grpc.health.v1.Health']));
  });

  it('describes each service well enough for a client to rebuild it', async () => {
    const methods: Record<string, string[]> = {};
    for (const name of pendulumServices) {
      const registry = await client.describe(name);
      methods[name] = registry.getService(name)?.methods.map((m) => m.name) ?? [];
    }
    expect(methods['pendulum.v1.DeviceService']).toEqual(
      expect.arrayContaining(['Authenticate', 'CheckIn', 'Download', 'Report']),
    );
    expect(methods['pendulum.v1.PublisherService']).toEqual(
      expect.arrayContaining(['UploadPayload', 'PublishRelease', 'ListReleases', 'PutTrustRoot']),
    );
    expect(methods['pendulum.v1.FleetService']).toEqual(
      expect.arrayContaining(['CreateRollout', 'ListRollouts', 'ListDevices', 'AcceptDevice']),
    );
  });
});
