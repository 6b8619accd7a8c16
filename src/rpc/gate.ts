// Authorisation when a call's headers arrive. grpc-js reads a unary or
// server-streaming request before it runs a handler, and a server interceptor
// is the one place that sees a call before that: a caller refused here has
// not a byte of its request read, and holds no stream open waiting for one.
import {
  type Metadata,
  Server,
  ServerInterceptingCall,
  type ServerInterceptor,
  type ServerOptions,
  type StatusObject,
} from '@grpc/grpc-js';
import { InvariantError } from '../errors.js';

// The status a refused call ends with.
export type Refusal = Pick<StatusObject, 'code' | 'details'> & { metadata?: Metadata | null };

export interface Guard {
  // Resolves with who is calling, or rejects to refuse the call.
  readonly check: (metadata: Metadata) => Promise<unknown>;
  // The status a rejection of `check` is answered with.
  readonly refusal: (error: unknown) => Refusal;
}

// The guards of each server made by createServer, by method path.
const guards = new WeakMap<Server, Map<string, Guard>>();
// Who each authorised call is, by the metadata grpc-js hands its handler.
const principals = new WeakMap<Metadata, unknown>();

// createServer makes a grpc-js server whose guarded methods are authorised
// on their headers; methods without a guard (health, reflection) are open.
export function createServer(options: ServerOptions = {}): Server {
  const byPath = new Map<string, Guard>();
  const server = new Server({
    ...options,
    interceptors: [authorizeOnHeaders(byPath), ...(options.interceptors ?? [])],
  });
  guards.set(server, byPath);
  return server;
}

// guard makes every call to `path` on `server` pass `guard` first.
export function guard(server: Server, path: string, guard: Guard): void {
  const byPath = guards.get(server);
  if (byPath === undefined)
    throw new InvariantError(`${path}: the server was not made by createServer`);
  byPath.set(path, guard);
}

// principalOf is who the guard found a call to be.
export function principalOf(metadata: Metadata): unknown {
  if (!principals.has(metadata))
    throw new InvariantError('a guarded call reached its handler without being authorised');
  return principals.get(metadata);
}

function authorizeOnHeaders(byPath: ReadonlyMap<string, Guard>): ServerInterceptor {
  return (descriptor, call) => {
    const found = byPath.get(descriptor.path);
    if (found === undefined) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          // Until `proceed` runs, grpc-js starts no read of the request.
          onReceiveMetadata: (metadata, proceed) => {
            new Promise((resolve) => resolve(found.check(metadata))).then(
              (principal) => {
                principals.set(metadata, principal);
                proceed(metadata);
              },
              (error: unknown) => call.sendStatus(found.refusal(error)),
            );
          },
        }),
    });
  };
}
