// Serve a protoc-gen-es service with grpc-js: descriptors become a grpc-js
// service definition, callers are authorised on their headers (gate.ts),
// requests decoded only then, handlers are async, and every error leaves
// through toWireStatus.

import type { EventEmitter } from 'node:events';
import { create, type DescMethod, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import {
  type Metadata,
  type MethodDefinition,
  type Server,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type StatusObject,
  type sendUnaryData,
  status,
  type UntypedHandleCall,
} from '@grpc/grpc-js';
import { PendulumError } from '../errors.js';
import { guard, principalOf } from './gate.js';
import { toWireStatus } from './status.js';
import type { CallContext, ServiceImpl } from './types.js';

export interface ServeOptions<P> {
  // Decides who is calling, or throws UNAUTHENTICATED / PERMISSION_DENIED. It
  // runs when the call's headers arrive, before its request is read.
  readonly authorize: (method: DescMethod, metadata: Metadata) => Promise<P>;
  // Told about every error that is not a PendulumError (a bug, or a library failure).
  readonly onInternalError: (error: unknown, path: string) => void;
  // Awaited before a reply, or a stream's first message, leaves: resolves
  // once whatever the handler may have read is durable (the store's group
  // commit), so no caller hears of state a power cut could take back.
  readonly beforeReply?: () => Promise<void>;
}

type AnyCall =
  | ServerUnaryCall<unknown, unknown>
  | ServerReadableStream<unknown, unknown>
  | ServerWritableStream<unknown, unknown>
  | ServerDuplexStream<unknown, unknown>;

// addService registers `impl` for `service` on a server made by createServer (gate.ts).
export function addService<S extends GenServiceMethods, P>(
  server: Server,
  service: GenService<S>,
  impl: ServiceImpl<S, P>,
  options: ServeOptions<P>,
): void {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  const handlers: Record<string, UntypedHandleCall> = {};
  for (const method of service.methods) {
    const path = `/${service.typeName}/${method.name}`;
    definition[method.localName] = methodDefinition(method, path);
    const handler = (impl as Record<string, unknown>)[method.localName];
    if (typeof handler !== 'function')
      throw new Error(`${service.typeName} has no handler for ${method.name}`);
    handlers[method.localName] = makeHandler(method, path, handler as HandlerFn, options);
    guard(server, path, {
      check: (metadata) => options.authorize(method, metadata),
      refusal: (error) => {
        if (error instanceof PendulumError) return toWireStatus(error);
        options.onInternalError(error, path);
        return { code: status.INTERNAL, details: 'internal error', metadata: null };
      },
    });
  }
  server.addService(definition as ServiceDefinition, handlers);
}

// methodDefinition is the grpc-js wire definition of one method.
export function methodDefinition(
  method: DescMethod,
  path: string,
): MethodDefinition<unknown, unknown> {
  return {
    path,
    requestStream:
      method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream:
      method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
    requestSerialize: (value: unknown) =>
      asBuffer(toBinary(method.input, create(method.input, value as never))),
    requestDeserialize: (bytes: Buffer) => new Encoded(method, bytes),
    responseSerialize: (value: unknown) =>
      asBuffer(toBinary(method.output, create(method.output, value as never))),
    responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
  };
}

// asBuffer views encoded bytes as a Buffer without copying them (a download
// chunk is a megabyte; Buffer.from would copy it once more).
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Encoded holds a request's bytes until its handler decodes them, once the
// caller is authorised: decoding up to max_message bytes of protobuf (a
// second of CPU for a map of small entries) is work for known callers only,
// and grpc-js would answer a throwing deserializer with a bare, retryable
// INTERNAL.
class Encoded {
  constructor(
    readonly method: DescMethod,
    readonly bytes: Buffer,
  ) {}
}

// decoded decodes a request message as requestDeserialize left it, or throws
// INVALID_ARGUMENT saying why its bytes do not decode.
export function decoded(message: unknown): unknown {
  if (!(message instanceof Encoded)) return message;
  const { method, bytes } = message;
  try {
    return fromBinary(method.input, bytes);
  } catch (error) {
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `the request is not a valid ${method.input.typeName}: ${error instanceof Error ? error.message : String(error)}`,
      { context: { field: 'request' } },
    );
  }
}

async function* decodedStream(messages: AsyncIterable<unknown>): AsyncIterable<unknown> {
  for await (const message of messages) yield decoded(message);
}

type HandlerFn = (
  input: unknown,
  ctx: CallContext<unknown>,
) => Promise<unknown> | AsyncIterable<unknown>;

function makeHandler<P>(
  method: DescMethod,
  path: string,
  handler: HandlerFn,
  options: ServeOptions<P>,
): UntypedHandleCall {
  const fail = (error: unknown, call: AnyCall): Partial<StatusObject> => {
    if (error instanceof PendulumError) return toWireStatus(error);
    // What a handler throws once its caller has gone (say, the AbortError of a
    // Node API given ctx.signal) is the cancellation, not a server bug.
    if (call.cancelled) {
      return toWireStatus(new PendulumError('CANCELLED', 'call cancelled by the client'));
    }
    options.onInternalError(error, path);
    return { code: status.INTERNAL, details: 'internal error' };
  };
  const settle = options.beforeReply ?? (async () => undefined);
  // settled passes a handler's outcome on once what it read is durable.
  const settled = <T>(outcome: Promise<T>): Promise<T> =>
    outcome.then(
      async (value) => {
        await settle();
        return value;
      },
      async (error: unknown) => {
        await settle().catch(() => undefined);
        throw error;
      },
    );
  switch (method.methodKind) {
    case 'unary':
      return ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const life = callLife(call);
        settled(
          (async () =>
            handler(decoded(call.request), contextOf(call, path, life)) as Promise<unknown>)(),
        ).then(
          (value) => {
            life.finish();
            callback(null, value);
          },
          (error) => {
            life.finish();
            callback(fail(error, call));
          },
        );
      }) as UntypedHandleCall;
    case 'client_streaming':
      return ((call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const life = callLife(call);
        settled(
          (async () =>
            handler(
              decodedStream(call as AsyncIterable<unknown>),
              contextOf(call, path, life),
            ) as Promise<unknown>)(),
        ).then(
          (value) => {
            life.finish();
            callback(null, value);
          },
          (error) => {
            life.finish();
            call.destroy();
            callback(fail(error, call));
          },
        );
      }) as UntypedHandleCall;
    case 'server_streaming':
      return ((call: ServerWritableStream<unknown, unknown>) => {
        const life = callLife(call);
        writeAll(
          call,
          async () =>
            handler(decoded(call.request), contextOf(call, path, life)) as AsyncIterable<unknown>,
          (error) => fail(error, call),
          settle,
          life,
        );
      }) as UntypedHandleCall;
    case 'bidi_streaming':
      return ((call: ServerDuplexStream<unknown, unknown>) => {
        const life = callLife(call);
        writeAll(
          call,
          async () =>
            handler(
              decodedStream(call as AsyncIterable<unknown>),
              contextOf(call, path, life),
            ) as AsyncIterable<unknown>,
          (error) => fail(error, call),
          settle,
          life,
        );
      }) as UntypedHandleCall;
  }
}

interface CallLife {
  // The signal a handler is given; made when first asked for.
  signal(): AbortSignal;
  // finish marks the reply sent: the stream closing after it is no cancellation.
  finish(): void;
}

// callLife follows one call: grpc-js reports the stream of every call closing,
// finished or not, as 'cancelled'; only one closing before the reply aborts
// the handler's signal. Most handlers never ask for the signal, so none is
// made for them.
function callLife(call: AnyCall): CallLife {
  let abort: AbortController | undefined;
  let finished = false;
  const cancel = () => abort?.abort(new PendulumError('CANCELLED', 'call cancelled by the client'));
  (call as EventEmitter).once('cancelled', () => {
    if (!finished) cancel();
  });
  return {
    signal() {
      if (abort === undefined) {
        abort = new AbortController();
        if (call.cancelled && !finished) cancel();
      }
      return abort.signal;
    },
    finish() {
      finished = true;
    },
  };
}

// contextOf is what a handler learns of its call.
function contextOf<P>(call: AnyCall, path: string, life: CallLife): CallContext<P> {
  const principal = principalOf(call.metadata) as P;
  return {
    path,
    metadata: call.metadata,
    principal,
    get signal() {
      return life.signal();
    },
    get peer() {
      return call.getPeer();
    },
  };
}

// Messages of one response stream that may wait in the server for HTTP/2 to
// take them: enough that reading the next (a payload chunk from disk)
// overlaps sending the last, few enough that a peer reading slowly pins
// little memory. (grpc-js alone would queue 16 before write() said to wait.)
const maxPendingWrites = 4;

// writeAll drains an async iterable into a response stream, at most
// maxPendingWrites messages ahead of what HTTP/2 has taken, which for a peer
// that reads slowly is what its flow-control window allows. `settle` is
// awaited before the first message and the end.
function writeAll(
  call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
  start: () => Promise<AsyncIterable<unknown>>,
  fail: (error: unknown) => Partial<StatusObject>,
  settle: () => Promise<void>,
  life: CallLife,
): void {
  let cancelled = false;
  call.on('cancelled', () => {
    cancelled = true;
  });
  // Callbacks of writes HTTP/2 has not taken yet, and who waits for one.
  let pending = 0;
  let wake: (() => void) | undefined;
  const taken = () => {
    pending--;
    wake?.();
  };
  // until waits (or not) until fewer than `limit` writes are pending, or the call is gone.
  const until = async (limit: number) => {
    while (pending >= limit && !cancelled)
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    wake = undefined;
  };
  call.on('cancelled', () => wake?.());
  (async () => {
    let first = true;
    for await (const message of await start()) {
      if (cancelled) return;
      if (first) {
        first = false;
        await settle();
      }
      pending++;
      call.write(message, taken);
      await until(maxPendingWrites);
    }
    await until(1);
    await settle();
    life.finish();
    call.end();
  })().catch(async (error: unknown) => {
    await settle().catch(() => undefined);
    life.finish();
    if (!cancelled) call.emit('error', fail(error));
  });
}
