// A typed grpc-js client for a protoc-gen-es service. Failed calls reject with
// a PendulumError carrying the server's closed code.
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import type { ClientWritableStream } from '@grpc/grpc-js';
import {
  type CallOptions as GrpcCallOptions,
  type Client as GrpcClient,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { PendulumError } from '../errors.js';
import { methodDefinition } from './server.js';
import { fromServiceError } from './status.js';
import type { CallOptions, Client } from './types.js';

// Supplies per-call metadata, e.g. the current bearer token.
export type MetadataSource = () => Promise<Record<string, string>> | Record<string, string>;

// createClient returns one async function per method of `service`.
export function createClient<S extends GenServiceMethods>(
  service: GenService<S>,
  channel: GrpcClient,
  metadata: MetadataSource = () => ({}),
): Client<S> {
  const client: Record<string, unknown> = {};
  for (const method of service.methods) {
    const path = `/${service.typeName}/${method.name}`;
    const wire = methodDefinition(method, path);
    const prepare = async (options: CallOptions | undefined) => {
      const md = new Metadata();
      for (const [key, value] of Object.entries(await metadata())) md.set(key, value);
      const callOptions: GrpcCallOptions = {};
      if (options?.timeoutMs !== undefined) callOptions.deadline = Date.now() + options.timeoutMs;
      return { md, callOptions };
    };
    const wrap = (error: ServiceError) => fromServiceError(error, path);
    switch (method.methodKind) {
      case 'unary':
        client[method.localName] = async (request: unknown, options?: CallOptions) => {
          const { md, callOptions } = await prepare(options);
          return new Promise((resolve, reject) => {
            // Released when the call ends, so a long-lived signal does not collect listeners.
            let stop: () => void = () => undefined;
            const call = channel.makeUnaryRequest(
              path,
              wire.requestSerialize,
              wire.responseDeserialize,
              request,
              md,
              callOptions,
              (error, value) => {
                stop();
                if (error) reject(wrap(error));
                else resolve(value);
              },
            );
            stop = cancelOn(options?.signal, () => call.cancel());
          });
        };
        break;
      case 'server_streaming':
        client[method.localName] = (request: unknown, options?: CallOptions) =>
          (async function* () {
            const { md, callOptions } = await prepare(options);
            const call = channel.makeServerStreamRequest(
              path,
              wire.requestSerialize,
              wire.responseDeserialize,
              request,
              md,
              callOptions,
            );
            const stop = cancelOn(options?.signal, () => call.cancel());
            try {
              for await (const message of call) yield message;
            } catch (error) {
              throw isServiceError(error) ? wrap(error) : PendulumError.from(error, 'UNAVAILABLE');
            } finally {
              stop();
              call.cancel();
            }
          })();
        break;
      case 'client_streaming':
        client[method.localName] = async (
          requests: AsyncIterable<unknown>,
          options?: CallOptions,
        ) => {
          const { md, callOptions } = await prepare(options);
          let call: ClientWritableStream<unknown> | undefined;
          const response = new Promise((resolve, reject) => {
            call = channel.makeClientStreamRequest(
              path,
              wire.requestSerialize,
              wire.responseDeserialize,
              md,
              callOptions,
              (error, value) => (error ? reject(wrap(error)) : resolve(value)),
            );
          });
          const stream = call as unknown as ClientWritableStream<unknown>;
          // A failed upload rejects `response` too; the pump's error is the one to report.
          response.catch(() => undefined);
          const stop = cancelOn(options?.signal, () => stream.cancel());
          const settled = response.then(
            () => undefined,
            () => undefined,
          );
          try {
            await Promise.race([pump(requests, stream, settled), response]);
            return await response;
          } finally {
            stop();
          }
        };
        break;
      case 'bidi_streaming':
        throw new Error(`${path}: bidi streaming is not used by pendulum`);
    }
  }
  return client as Client<S>;
}

// pump writes every request, waiting for 'drain' when the stream is full. Once
// the call has `settled` (the server answered early, failed or was cancelled)
// it stops and closes `requests`, so a file being uploaded is not read on.
async function pump(
  requests: AsyncIterable<unknown>,
  stream: ClientWritableStream<unknown>,
  settled: Promise<void>,
): Promise<void> {
  let done = false;
  void settled.then(() => {
    done = true;
  });
  try {
    for await (const request of requests) {
      if (done) return;
      if (!stream.write(request)) await drained(stream, settled);
      if (done) return;
    }
    stream.end();
  } catch (error) {
    stream.cancel();
    throw error;
  }
}

// drained resolves on the stream's next 'drain', or when the call has settled.
function drained(stream: ClientWritableStream<unknown>, settled: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      resolve();
    };
    stream.on('drain', done);
    void settled.then(done);
  });
}

function cancelOn(signal: AbortSignal | undefined, cancel: () => void): () => void {
  if (signal === undefined) return () => undefined;
  if (signal.aborted) {
    cancel();
    return () => undefined;
  }
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}

function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === 'number' &&
    'metadata' in error
  );
}
