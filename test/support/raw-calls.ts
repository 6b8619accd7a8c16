// gRPC calls with request bytes as they go on the wire, as an attacker makes
// them: any path, any token or none, any size, and how each one ended.
import { type ChannelOptions, credentials, Client as GrpcClient, Metadata } from '@grpc/grpc-js';

export type CallKind = 'unary' | 'server_streaming' | 'client_streaming';

export interface CallOutcome {
  // The gRPC status code the call ended with.
  readonly code: number;
  readonly details: string;
  // Response messages received, and their bytes.
  readonly messages: number;
  readonly bytes: number;
}

const identity = (bytes: Buffer) => bytes;

// rawChannel opens a channel to `address` on a connection of its own (a
// local subchannel pool), so many channels are many TCP connections.
export function rawChannel(address: string, options: ChannelOptions = {}): GrpcClient {
  return new GrpcClient(address, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    ...options,
  });
}

// rawCall sends `requests` (one for unary and server-streaming calls) with
// `token` as its bearer token, if any, and resolves with how the call ended.
export function rawCall(
  channel: GrpcClient,
  path: string,
  kind: CallKind,
  requests: readonly Buffer[],
  token: string | undefined,
  deadlineMs = 30_000,
): Promise<CallOutcome> {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  const options = { deadline: Date.now() + deadlineMs };
  let messages = 0;
  let bytes = 0;
  const received = (message: Buffer) => {
    messages++;
    bytes += message.length;
  };
  return new Promise((resolve) => {
    const end = (code: number, details: string) => resolve({ code, details, messages, bytes });
    const answer = (error: { code: number; details: string } | null, value?: Buffer) => {
      if (value !== undefined) received(value);
      end(error?.code ?? 0, error?.details ?? '');
    };
    if (kind === 'unary') {
      channel.makeUnaryRequest(
        path,
        identity,
        identity,
        requests[0] as Buffer,
        metadata,
        options,
        answer,
      );
    } else if (kind === 'server_streaming') {
      const call = channel.makeServerStreamRequest(
        path,
        identity,
        identity,
        requests[0] as Buffer,
        metadata,
        options,
      );
      call.on('data', received);
      call.on('error', () => undefined);
      call.on('status', (status) => end(status.code, status.details));
    } else {
      const call = channel.makeClientStreamRequest(
        path,
        identity,
        identity,
        metadata,
        options,
        answer,
      );
      call.on('error', () => undefined);
      for (const request of requests) call.write(request);
      call.end();
    }
  });
}
