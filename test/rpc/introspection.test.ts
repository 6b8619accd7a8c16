// Health and reflection (src/rpc/introspection.ts), asked the way
// grpc_health_probe and grpcurl ask: through the standard services.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { create, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from '@bufbuild/protobuf/wkt';
import {
  type Client,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  Server,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PendulumError } from '../../src/errors.js';
import { DeviceService, file_pendulum_v1_device } from '../../src/gen/pendulum/v1/device_pb.js';
import { addIntrospection, type Introspection } from '../../src/rpc/introspection.js';
import { addService } from '../../src/rpc/server.js';
import { type Listening, listen, within } from './harness.js';

const require = createRequire(import.meta.url);
const reflectionProtoPath = join(
  dirname(require.resolve('@grpc/reflection')),
  '../proto/grpc/reflection/v1/reflection.proto',
);

// serviceClient builds a grpc-js client constructor for `name` from a .proto file.
function serviceClient(protoFile: string, name: string): ServiceClientConstructor {
  const definition = loadPackageDefinition(
    loadSync(protoFile, { keepCase: true, defaults: true, enums: String }),
  );
  let node: GrpcObject | ServiceClientConstructor = definition;
  for (const part of name.split('.')) node = (node as GrpcObject)[part] as GrpcObject;
  return node as unknown as ServiceClientConstructor;
}

let listening: Listening;
let introspection: Introspection;
const clients: Client[] = [];

function open(protoFile: string, name: string) {
  const Constructor = serviceClient(protoFile, name);
  const client = new Constructor(listening.address, credentials.createInsecure());
  clients.push(client);
  return client;
}

type HealthResponse = { status: string };

function check(service: string): Promise<HealthResponse> {
  const health = open(healthProtoPath, 'grpc.health.v1.Health') as unknown as {
    Check(
      request: { service: string },
      callback: (error: Error | null, value: HealthResponse) => void,
    ): void;
  };
  return new Promise((resolve, reject) => {
    health.Check({ service }, (error, value) => (error ? reject(error) : resolve(value)));
  });
}

interface ReflectionResponse {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

// reflect sends one ServerReflectionRequest on the bidi stream and returns the answer.
function reflect(request: Record<string, string>): Promise<ReflectionResponse> {
  const reflection = open(
    reflectionProtoPath,
    'grpc.reflection.v1.ServerReflection',
  ) as unknown as {
    ServerReflectionInfo(): NodeJS.EventEmitter & { write(message: unknown): void; end(): void };
  };
  const call = reflection.ServerReflectionInfo();
  const answer = new Promise<ReflectionResponse>((resolve, reject) => {
    call.once('data', (response: ReflectionResponse) => resolve(response));
    call.once('error', reject);
  });
  call.write(request);
  call.end();
  return within(answer, 5000, 'a reflection answer');
}

beforeAll(async () => {
  const server = new Server();
  const refuse = async () => {
    throw new PendulumError('UNAVAILABLE', 'not in this test');
  };
  addService(
    server,
    DeviceService,
    { authenticate: refuse, checkIn: refuse, report: refuse, download: refuse as never },
    { authorize: async () => 'anyone', onInternalError: () => undefined },
  );
  introspection = addIntrospection(server, [file_pendulum_v1_device]);
  listening = await listen(server);
});

afterAll(async () => {
  for (const client of clients.splice(0)) client.close();
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
    const response = await reflect({ list_services: '' });
    const names = response.list_services_response?.service.map((service) => service.name) ?? [];
    expect(names).toContain('pendulum.v1.DeviceService');
    expect(names).toContain('grpc.health.v1.Health');
  });

  it('serves descriptors from which a client can rebuild DeviceService and its imports', async () => {
    const response = await reflect({ file_containing_symbol: 'pendulum.v1.DeviceService' });
    const files = (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
      fromBinary(FileDescriptorProtoSchema, bytes),
    );
    const byName = new Map(files.map((file) => [file.name, file]));
    // Imports first, as a FileDescriptorSet must be; a missing import fails here.
    const ordered: FileDescriptorProto[] = [];
    const visit = (name: string) => {
      const file = byName.get(name);
      if (file === undefined) throw new Error(`reflection did not return ${name}`);
      if (ordered.includes(file)) return;
      for (const dependency of file.dependency) visit(dependency);
      ordered.push(file);
    };
    visit('pendulum/v1/device.proto');
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
    const service = registry.getService('pendulum.v1.DeviceService');
    expect(service?.methods.map((method) => method.name)).toEqual([
      'Authenticate',
      'CheckIn',
      'Download',
      'Report',
    ]);
    expect(registry.getMessage('pendulum.v1.Offer')?.field.manifest?.message?.typeName).toBe(
      'pendulum.v1.Signed',
    );
  });
});
