// Handler and client types derived from protoc-gen-es service descriptors.
import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import type { Metadata } from '@grpc/grpc-js';

export interface CallContext<P> {
  // "/pendulum.v1.DeviceService/CheckIn"
  readonly path: string;
  readonly metadata: Metadata;
  // Aborted when the client cancels or the deadline passes.
  readonly signal: AbortSignal;
  readonly peer: string;
  // Whoever `authorize` said is calling.
  readonly principal: P;
}

type In<M> = M extends { input: infer I extends DescMessage } ? MessageShape<I> : never;
type Out<M> = M extends { output: infer O extends DescMessage } ? MessageInitShape<O> : never;
type InInit<M> = M extends { input: infer I extends DescMessage } ? MessageInitShape<I> : never;
type OutShape<M> = M extends { output: infer O extends DescMessage } ? MessageShape<O> : never;

export type Handler<M, P> = M extends { methodKind: 'unary' }
  ? (request: In<M>, ctx: CallContext<P>) => Promise<Out<M>>
  : M extends { methodKind: 'server_streaming' }
    ? (request: In<M>, ctx: CallContext<P>) => AsyncIterable<Out<M>>
    : M extends { methodKind: 'client_streaming' }
      ? (requests: AsyncIterable<In<M>>, ctx: CallContext<P>) => Promise<Out<M>>
      : (requests: AsyncIterable<In<M>>, ctx: CallContext<P>) => AsyncIterable<Out<M>>;

// ServiceImpl is an object with one async handler per method of a service.
export type ServiceImpl<S extends GenServiceMethods, P> = { [K in keyof S]: Handler<S[K], P> };

export interface CallOptions {
  readonly signal?: AbortSignal;
  // Milliseconds from now.
  readonly timeoutMs?: number;
}

export type ClientMethod<M> = M extends { methodKind: 'unary' }
  ? (request: InInit<M>, options?: CallOptions) => Promise<OutShape<M>>
  : M extends { methodKind: 'server_streaming' }
    ? (request: InInit<M>, options?: CallOptions) => AsyncIterable<OutShape<M>>
    : M extends { methodKind: 'client_streaming' }
      ? (requests: AsyncIterable<InInit<M>>, options?: CallOptions) => Promise<OutShape<M>>
      : never;

// Client is an object with one async method per method of a service.
export type Client<S extends GenServiceMethods> = { [K in keyof S]: ClientMethod<S[K]> };
