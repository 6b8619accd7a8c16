// The real server answers the standard health and reflection services the way
// grpc_health_probe and grpcurl ask them, for every pendulum service.
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
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServerConfig } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';
import { makeTempDir } from '../support/temp-dir.js';

const require = createRequire(import.meta.url);
const reflectionProtoPath = join(
  dirname(require.resolve('@grpc/reflection')),
  '../proto/grpc/reflection/v1/reflection.proto',
);

const pendulumServices = [
  'pendulum.v1.DeviceService',
  'pendulum.v1.PublisherService',
  'pendulum.v1.FleetService',
];

let dir: { path: string; remove: () => Promise<void> };
let server: RunningServer;
const clients: Client[] = [];

beforeAll(async () => {
  dir = await makeTempDir('introspection');
  server = await startServer(
    defaultServerConfig({ data_dir: join(dir.path, 'server'), listen: '127.0.0.1:0' }),
    { log: pino({ level: 'silent' }) },
  );
});
afterAll(async () => {
  for (const client of clients.splice(0)) client.close();
  await server.close();
  await dir.remove();
});

// open builds a grpc-js client for service `name` from a .proto file, as a generic tool would.
function open(protoFile: string, name: string): Client {
  let node: GrpcObject | ServiceClientConstructor = loadPackageDefinition(
    loadSync(protoFile, { keepCase: true, defaults: true, enums: String }),
  );
  for (const part of name.split('.')) node = (node as GrpcObject)[part] as GrpcObject;
  const Constructor = node as unknown as ServiceClientConstructor;
  const client = new Constructor(server.address, credentials.createInsecure());
  clients.push(client);
  return client;
}

function check(service: string): Promise<{ status: string }> {
  const health = open(healthProtoPath, 'grpc.health.v1.Health') as unknown as {
    Check(
      request: { service: string },
      callback: (error: Error | null, value: { status: string }) => void,
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
  return answer;
}

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
    const response = await reflect({ list_services: '' });
    const names = response.list_services_response?.service.map((s) => s.name) ?? [];
    expect(names).toEqual(expect.arrayContaining([...pendulumServices, 'grpc.health.v1.Health']));
  });

  it('describes each service well enough for a client to rebuild it', async () => {
    const methods: Record<string, string[]> = {};
    for (const name of pendulumServices) {
      const response = await reflect({ file_containing_symbol: name });
      const files = (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
        fromBinary(FileDescriptorProtoSchema, bytes),
      );
      const byName = new Map(files.map((file) => [file.name, file]));
      // Imports first, as a FileDescriptorSet must be; a missing import fails here.
      const ordered: FileDescriptorProto[] = [];
      const visit = (file: FileDescriptorProto | undefined, wanted: string) => {
        if (file === undefined) throw new Error(`reflection did not return ${wanted}`);
        if (ordered.includes(file)) return;
        for (const dependency of file.dependency) visit(byName.get(dependency), dependency);
        ordered.push(file);
      };
      for (const file of files) visit(file, file.name);
      const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
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
