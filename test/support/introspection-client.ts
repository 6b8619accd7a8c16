// Ask a server's health and reflection services the way generic tools
// (grpc_health_probe, grpcurl) do: from the standard .proto files.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { create, createFileRegistry, type FileRegistry, fromBinary } from '@bufbuild/protobuf';
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

const require = createRequire(import.meta.url);
const reflectionProtoPath = join(
  dirname(require.resolve('@grpc/reflection')),
  '../proto/grpc/reflection/v1/reflection.proto',
);

interface ReflectionResponse {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

export interface IntrospectionClient {
  // check is grpc.health.v1.Health/Check.
  check(service: string): Promise<{ status: string }>;
  // listServices is reflection's list_services.
  listServices(): Promise<string[]>;
  // describe rebuilds the files reflection returns for a symbol, imports
  // first; a missing import fails.
  describe(symbol: string): Promise<FileRegistry>;
  close(): void;
}

// introspectionClient connects to `address` (plaintext).
export function introspectionClient(address: string, timeoutMs = 5000): IntrospectionClient {
  const clients: Client[] = [];
  const open = (protoFile: string, name: string): Client => {
    let node: GrpcObject | ServiceClientConstructor = loadPackageDefinition(
      loadSync(protoFile, { keepCase: true, defaults: true, enums: String }),
    );
    for (const part of name.split('.')) node = (node as GrpcObject)[part] as GrpcObject;
    const client = new (node as unknown as ServiceClientConstructor)(
      address,
      credentials.createInsecure(),
    );
    clients.push(client);
    return client;
  };
  const reflect = (request: Record<string, string>): Promise<ReflectionResponse> => {
    const reflection = open(
      reflectionProtoPath,
      'grpc.reflection.v1.ServerReflection',
    ) as unknown as {
      ServerReflectionInfo(): NodeJS.EventEmitter & { write(message: unknown): void; end(): void };
    };
    const call = reflection.ServerReflectionInfo();
    return new Promise<ReflectionResponse>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no reflection answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      call.once('data', (response: ReflectionResponse) => {
        clearTimeout(timer);
        resolve(response);
      });
      call.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      call.write(request);
      call.end();
    });
  };
  return {
    check(service) {
      const health = open(healthProtoPath, 'grpc.health.v1.Health') as unknown as {
        Check(
          request: { service: string },
          callback: (error: Error | null, value: { status: string }) => void,
        ): void;
      };
      return new Promise((resolve, reject) => {
        health.Check({ service }, (error, value) => (error ? reject(error) : resolve(value)));
      });
    },
    async listServices() {
      const response = await reflect({ list_services: '' });
      return response.list_services_response?.service.map((s) => s.name) ?? [];
    },
    async describe(symbol) {
      const response = await reflect({ file_containing_symbol: symbol });
      const files = (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
        fromBinary(FileDescriptorProtoSchema, bytes),
      );
      const byName = new Map(files.map((file) => [file.name, file]));
      // Imports first, as a FileDescriptorSet must be.
      const ordered: FileDescriptorProto[] = [];
      const visit = (file: FileDescriptorProto | undefined, wanted: string) => {
        if (file === undefined) throw new Error(`reflection did not return ${wanted}`);
        if (ordered.includes(file)) return;
        for (const dependency of file.dependency) visit(byName.get(dependency), dependency);
        ordered.push(file);
      };
      for (const file of files) visit(file, file.name);
      return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
    },
    close() {
      for (const client of clients.splice(0)) client.close();
    },
  };
}
