// The server's TCP listener. grpc-js binds its own sockets and accepts every
// connection; owning the listener and handing each socket to grpc-js lets the
// server refuse connections beyond `max_connections` before a flood of them
// uses up the file descriptors the database and the payloads need.
import { type AddressInfo, createServer, type Socket } from 'node:net';
import type { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { PendulumError } from '../errors.js';
import { addressHost } from '../rpc/transport.js';

export interface Listener {
  // The port actually bound (the OS picks it when the address says 0).
  readonly port: number;
  // Stops accepting connections at once, then waits up to `graceMs` for the
  // open ones to end (grpc-js closes those it serves) before destroying them.
  close(graceMs: number): Promise<void>;
}

export interface ListenOptions {
  // host:port or [v6]:port
  readonly address: string;
  readonly maxConnections: number;
  readonly log: Logger;
}

// Refused connections are logged at most this often, with how many there were.
const dropLogIntervalMs = 60_000;

// listen accepts connections on `address` and serves them with `server`.
export async function listen(
  server: Server,
  credentials: ServerCredentials,
  options: ListenOptions,
): Promise<Listener> {
  const { host, port } = parseAddress(options.address);
  const injector = server.createConnectionInjector(credentials);
  const sockets = new Set<Socket>();
  const listener = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  listener.maxConnections = options.maxConnections;
  let dropped = 0;
  let loggedAt = Number.NEGATIVE_INFINITY;
  listener.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - loggedAt < dropLogIntervalMs) return;
    options.log.warn(
      { dropped, maxConnections: options.maxConnections },
      `refusing connections: ${options.maxConnections} open (max_connections)`,
    );
    loggedAt = now;
    dropped = 0;
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => {
      injector.destroy();
      reject(
        new PendulumError('UNAVAILABLE', `cannot listen on ${options.address}: ${error.message}`, {
          context: { field: 'listen' },
          cause: error,
        }),
      );
    };
    listener.once('error', failed);
    listener.listen({ host, port }, () => {
      listener.off('error', failed);
      resolve();
    });
  });
  // Once listening, a failed accept (EMFILE, say) costs that connection, not the server.
  listener.on('error', (error) =>
    options.log.error({ err: error, address: options.address }, 'cannot accept a connection'),
  );
  return {
    port: (listener.address() as AddressInfo).port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, graceMs);
        listener.close(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

// parseAddress splits "host:port" or "[v6]:port".
function parseAddress(address: string): { host: string; port: number } {
  const host = addressHost(address);
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  if (host === address || host === '' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new PendulumError('CONFIG_INVALID', `listen must be host:port, not "${address}"`, {
      context: { field: 'listen' },
    });
  }
  return { host, port };
}
