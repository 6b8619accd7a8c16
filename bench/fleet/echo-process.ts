// Child process: a bare grpc-js unary echo on a loopback port, the baseline
// for the check-in rate. Prints {"address"} once listening; SIGTERM stops it.
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';

export const echoPath = '/bench.Echo/Echo';

const identity = (bytes: Buffer) => bytes;

async function main(): Promise<void> {
  const server = new Server({ 'grpc.max_concurrent_streams': 100 });
  server.addService(
    {
      echo: {
        path: echoPath,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      echo: (call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) =>
        done(null, call.request),
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  // The parent is gone.
  process.stdin.once('end', stop).resume();
  process.stdout.write(`${JSON.stringify({ address: `127.0.0.1:${port}` })}\n`);
}

if (process.argv[1]?.endsWith('echo-process.js')) {
  main().catch((error: unknown) => {
    process.stderr.write(`echo server failed: ${String(error)}\n`);
    process.exit(1);
  });
}
