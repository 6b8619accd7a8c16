// Child process: pendulum's RPC layer with nothing behind it, the floor
// under what any check-in handler can cost. DeviceService is served through
// src/rpc as the server serves it (the caller authorised on its headers, the
// request decoded after that, a wait for durability before the reply, typed
// errors), but the token check is a lookup in a Map, as a check of a token the
// server has cached is, and CheckIn answers at once with an empty reply:
// no store, no offer, no signature. Every other method is refused. Prints
// {"address"} once listening; SIGTERM or the end of stdin stops it.
import type { DescMethod } from '@bufbuild/protobuf';
import type { Metadata } from '@grpc/grpc-js';
import { PendulumError } from '../../src/errors.js';
import { DeviceService } from '../../src/gen/pendulum/v1/device_pb.js';
import { bearerToken } from '../../src/rpc/auth.js';
import { createServer } from '../../src/rpc/gate.js';
import { addService } from '../../src/rpc/server.js';
import type { ServiceImpl } from '../../src/rpc/types.js';
import { type DevicePrincipal, requireDevice } from '../../src/server/auth.js';
import { defaultServerConfig } from '../../src/server/config.js';
import { isTokenShaped } from '../../src/server/store/tokens.js';
import { runChild, serveOnLoopback } from './serve-child.js';

type Impl = ServiceImpl<(typeof DeviceService)['method'], DevicePrincipal | undefined>;

// Tokens seen, each standing for a device: the first call with a token
// admits it, as the server's cache holds a token it has checked once.
const sessions = new Map<string, DevicePrincipal>();

async function authorize(method: DescMethod, metadata: Metadata) {
  if (method.localName === 'authenticate') return undefined;
  const token = bearerToken(metadata);
  if (token === undefined || !isTokenShaped(token, 'device'))
    throw new PendulumError('UNAUTHENTICATED', 'device token unknown or expired');
  let session = sessions.get(token);
  if (session === undefined) {
    session = { deviceId: `device-${sessions.size}`, classId: 'bench' };
    sessions.set(token, session);
  }
  return session;
}

const refused = () => {
  throw new PendulumError('FAILED_PRECONDITION', 'the RPC floor answers CheckIn only');
};

const impl: Impl = {
  authenticate: async () => refused(),
  async checkIn(_request, call) {
    requireDevice(call.principal);
    return {};
  },
  download: () => refused(),
  watch: () => refused(),
  report: async () => refused(),
};

async function main(): Promise<void> {
  const config = defaultServerConfig({});
  const server = createServer({
    'grpc.max_receive_message_length': config.max_message,
    'grpc.max_concurrent_streams': config.max_streams_per_connection,
  });
  addService(server, DeviceService, impl, {
    authorize,
    onInternalError: (error, path) =>
      process.stderr.write(`rpc floor: internal error in ${path}: ${String(error)}\n`),
    // What the server awaits when nothing is waiting to be synced.
    beforeReply: () => Promise.resolve(),
  });
  await serveOnLoopback(server);
}

runChild('rpc-floor-process.js', 'rpc floor', main);
