// Health and reflection (src/rpc/introspection.ts), asked the way
// grpc_health_probe and grpcurl ask: through the standard services.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PendulumError } from '../../src/errors.js';
import { DeviceService, file_pendulum_v1_device } from '../../src/gen/pendulum/v1/device_pb.js';
import { createServer } from '../../src/rpc/gate.js';
import { addIntrospection, type Introspection } from '../../src/rpc/introspection.js';
import { addService } from '../../src/rpc/server.js';
import { type IntrospectionClient, introspectionClient } from '../support/introspection-client.js';
import { type Listening, listen } from './harness.js';

let listening: Listening;
let introspection: Introspection;
let client: IntrospectionClient;
const check = (service: string) => client.check(service);

beforeAll(async () => {
  const server = createServer();
  const refuse = async () => {
    throw new PendulumError('UNAVAILABLE', 'not in this test');
  };
  addService(
    server,
    DeviceService,
    {
      authenticate: refuse,
      checkIn: refuse,
      report: refuse,
      download: refuse as never,
      watch: refuse as never,
    },
    { authorize: async () => 'anyone', onInternalError: () => undefined },
  );
  introspection = addIntrospection(server, [file_pendulum_v1_device]);
  listening = await listen(server);
  client = introspectionClient(listening.address);
});

afterAll(async () => {
  client.close();
  await listening.close();
});

describe('health', () => {
  it('answers NOT_SERVING until the server says it is ready, then SERVING, then NOT_SERVING again', async () => {
    expect((await check('')).status).toBe('NOT_SERVING');
    introspection.setServing(true);
    expect((await check('')).status).toBe('SERVING');
    expect((await check('pendulum.v1.DeviceService')).status).toBe('SERVING');
    introspection.setServing(false);
    expect((await check('pendulum.v1.DeviceService')).status).toBe('NOT_SERVING');
  });

  it('answers NOT_FOUND for a service it does not serve', async () => {
    await expect(check('pendulum.v1.NoSuchService')).rejects.toMatchObject({ code: 5 });
  });
});

describe('reflection', () => {
  it('lists pendulum.v1.DeviceService and the health service', async () => {
    const names = await client.listServices();
    expect(names).toContain('pendulum.v1.DeviceService');
    expect(names).toContain('grpc.health.v1.Health');
  });

  it('serves descriptors from which a client can rebuild DeviceService and its imports', async () => {
    const registry = await client.describe('pendulum.v1.DeviceService');
    const service = registry.getService('pendulum.v1.DeviceService');
    expect(service?.methods.map((method) => method.name)).toEqual([
      'Authenticate',
      'CheckIn',
      'Download',
      'Report',
      'Watch',
    ]);
    expect(registry.getMessage('pendulum.v1.Offer')?.field.manifest?.message?.typeName).toBe(
      'pendulum.v1.Signed',
    );
  });
});
