// A real grpc-js server on a loopback port chosen by the OS, and channels to it.
import { Client, credentials, type Server, ServerCredentials } from '@grpc/grpc-js';
import { PendulumError } from '../../src/errors.js';

export interface Listening {
  readonly server: Server;
  readonly address: string;
  readonly port: number;
  // close shuts the server down, forcing it after a short grace period.
  close(): Promise<void>;
}

// listen binds `server` to 127.0.0.1 on a port the OS picks.
export function listen(server: Server): Promise<Listening> {
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
      if (error) return reject(error);
      resolve({ server, port, address: `127.0.0.1:${port}`, close: () => shutdown(server) });
    });
  });
}

// connect opens a plaintext channel to `address`.
export function connect(address: string): Client {
  return new Client(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 8 * 1024 * 1024,
  });
}

function shutdown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

// Deferred is a promise with its resolve function outside.
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

// deferred makes a Deferred.
export function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// within rejects when `promise` has not settled after `ms`, naming `what`.
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// failure awaits a call that must fail and returns its PendulumError.
export async function failure(promise: Promise<unknown>): Promise<PendulumError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PendulumError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

// collect reads a stream to its end.
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

// pause waits `ms` milliseconds.
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
