// Child process: a bare grpc-js unary echo on a loopback port, the baseline
// for the check-in rate, and a signed echo: the same with an Ed25519
// signature (node:crypto, as the server signs every check-in reply's
// freshness statement) appended to each reply, the floor under what a
// check-in can cost. Prints {"address"} once listening; SIGTERM stops it.
import { generateKeyPairSync, sign } from 'node:crypto';
import { Server, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { runChild, serveOnLoopback } from './serve-child.js';

export const echoPath = '/bench.Echo/Echo';
export const signedEchoPath = '/bench.Echo/SignedEcho';

const identity = (bytes: Buffer) => bytes;
const { privateKey } = generateKeyPairSync('ed25519');
const method = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

async function main(): Promise<void> {
  const server = new Server({ 'grpc.max_concurrent_streams': 100 });
  server.addService(
    { echo: method(echoPath), signedEcho: method(signedEchoPath) },
    {
      echo: (call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) =>
        done(null, call.request),
      signedEcho: (call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) =>
        done(null, Buffer.concat([call.request, sign(null, call.request, privateKey)])),
    },
  );
  await serveOnLoopback(server);
}

runChild('echo-process.js', 'echo server', main);
