// The standard gRPC health service and server reflection, so grpcurl,
// grpc_health_probe and any gRPC client can find their way around.

import type { DescFile } from '@bufbuild/protobuf';
import { toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';

export interface Introspection {
  // Sets the serving status of the whole server ("") and of each named service.
  setServing(serving: boolean): void;
}

// addIntrospection registers health and reflection for the given files' services.
export function addIntrospection(server: Server, files: readonly DescFile[]): Introspection {
  const serviceNames = files.flatMap((file) => file.services.map((service) => service.typeName));
  const health = new HealthImplementation({
    '': 'NOT_SERVING',
    ...Object.fromEntries(serviceNames.map((n) => [n, 'NOT_SERVING'])),
  });
  health.addToServer(server);
  const healthDefinition = loadSync(healthProtoPath, { keepCase: true });
  const descriptors = collectFiles(files).map((file) =>
    Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)),
  );
  const packageDefinition = {
    ...healthDefinition,
    ...Object.fromEntries(
      serviceNames.map((name) => [name, { fileDescriptorProtos: descriptors }]),
    ),
  };
  new ReflectionService(packageDefinition as never).addToServer(server);
  return {
    setServing(serving) {
      const status = serving ? 'SERVING' : 'NOT_SERVING';
      for (const name of ['', ...serviceNames]) health.setStatus(name, status);
    },
  };
}

// collectFiles returns the files and everything they import, each once.
function collectFiles(files: readonly DescFile[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    for (const dependency of file.dependencies) visit(dependency);
    seen.set(file.name, file);
  };
  for (const file of files) visit(file);
  return [...seen.values()];
}
