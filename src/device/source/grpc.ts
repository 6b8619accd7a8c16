// The server as an update source: authenticates with the device key, keeps
// the short-lived token, and authenticates again when it is refused; and
// holds the Watch stream that says when to check in.
import { durationMs, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Client as GrpcClient } from '@grpc/grpc-js';
import { isPendulumError } from '../../errors.js';
import { DeviceService } from '../../gen/pendulum/v1/device_pb.js';
import { bearer } from '../../rpc/auth.js';
import { createClient } from '../../rpc/client.js';
import { type ClientTlsFiles, clientTransport } from '../../rpc/transport.js';
import { type KeyPair, signDeviceAuth } from '../../trust/index.js';
import { deploymentStateToWire, slotToWire } from '../../wire/enums.js';
import type { UpdateSource, WatchEvent } from './source.js';

export interface GrpcSourceOptions {
  readonly address: string;
  readonly caFile: string | undefined;
  // A pinned server certificate, a TLS name override and a client
  // certificate for mutual TLS (see src/rpc/transport.ts).
  readonly tls?: Omit<ClientTlsFiles, 'ca'>;
  readonly key: KeyPair;
  readonly classId: string;
  // Admits the device on its first authentication (FleetService.CreateEnrolmentToken).
  readonly enrolmentToken?: string;
  readonly callTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly now: () => Date;
}

// The HTTP/2 flow-control window the agent grants the server.
const downloadWindowBytes = 4 * 1024 * 1024;

// createGrpcSource connects to a pendulum server (lazily; no call is made yet).
export async function createGrpcSource(
  options: GrpcSourceOptions,
): Promise<UpdateSource & { readonly deviceId: string }> {
  const transport = await clientTransport(
    options.address,
    { ...options.tls, ...(options.caFile === undefined ? {} : { ca: options.caFile }) },
    'server.ca or server.pinned_cert',
  );
  const channel = new GrpcClient(options.address, transport.credentials, {
    ...transport.options,
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.keepalive_time_ms': 60_000,
    // HTTP/2's default 64 KiB receive window means a window update round trip
    // every 64 KiB of payload; on a slow CPU or a long link that, not the
    // bandwidth, bounds the download. Two chunks' worth keeps the pipe full.
    'grpc-node.flow_control_window': downloadWindowBytes,
  });
  let token: string | undefined;
  const client = createClient(DeviceService, channel, () =>
    token === undefined ? {} : bearer(token),
  );
  const timeoutMs = options.callTimeoutMs;

  let lastTimestamp = 0;
  const signIn = async (signal: AbortSignal) => {
    // Strictly increasing timestamps are the server's replay guard.
    const timestampMs = BigInt(Math.max(options.now().getTime(), lastTimestamp + 1));
    lastTimestamp = Number(timestampMs);
    const response = await client.authenticate(
      {
        publicKey: options.key.publicKey,
        classId: options.classId,
        timestampMs,
        signature: signDeviceAuth(options.key, options.classId, timestampMs),
        enrolmentToken: options.enrolmentToken ?? '',
      },
      { signal, timeoutMs },
    );
    token = response.token;
  };
  // One authentication at a time: the Watch stream and a check-in that both
  // find the token missing or refused share it, rather than race two
  // timestamps to the server's replay guard.
  let signingIn: Promise<void> | undefined;
  const authenticate = (signal: AbortSignal): Promise<void> => {
    signingIn ??= signIn(signal).finally(() => {
      signingIn = undefined;
    });
    return signingIn;
  };

  // authed runs a call with a token, authenticating first or again when refused.
  const authed = async <T>(signal: AbortSignal, call: () => Promise<T>): Promise<T> => {
    if (token === undefined) await authenticate(signal);
    try {
      return await call();
    } catch (error) {
      if (!isPendulumError(error, 'UNAUTHENTICATED')) throw error;
      await authenticate(signal);
      return call();
    }
  };

  return {
    deviceId: options.key.keyId,
    async checkIn(status, signal) {
      const response = await authed(signal, () =>
        client.checkIn(
          {
            status: {
              bootedSlot: slotToWire(status.bootedSlot),
              installedVersion: status.installedVersion,
              committedSequence: BigInt(status.committedSequence),
              trustRootVersion: status.trustRootVersion,
              agentState: status.agentState,
              inventory: { ...status.inventory },
              health:
                status.health === undefined
                  ? undefined
                  : {
                      committedAt: timestampFromMs(status.health.committedAt),
                      agentRestarts: status.health.restarts,
                      checksRun: status.health.checksRun,
                      checksFailed: status.health.checksFailed,
                      lastFailure: status.health.lastFailure.slice(0, 1024),
                    },
            },
            nonce: status.nonce,
          },
          { signal, timeoutMs },
        ),
      );
      return {
        offer: response.offer,
        trustRoots: response.trustRoots,
        freshness: response.freshness,
        pollIntervalMs:
          response.pollInterval === undefined ? undefined : durationMs(response.pollInterval),
      };
    },
    async *download(deploymentId, payloadId, offset, signal) {
      if (token === undefined) await authenticate(signal);
      const stream = async function* () {
        for await (const chunk of client.download(
          { deploymentId, payloadId, offset: BigInt(offset) },
          { signal },
        )) {
          yield { offset: Number(chunk.offset), data: chunk.data };
        }
      };
      let yielded = false;
      try {
        for await (const chunk of stream()) {
          yielded = true;
          yield chunk;
        }
      } catch (error) {
        if (yielded || !isPendulumError(error, 'UNAUTHENTICATED')) throw error;
        await authenticate(signal);
        yield* stream();
      }
    },
    async report(report, signal) {
      await authed(signal, () =>
        client.report(
          {
            deploymentId: report.deploymentId,
            state: deploymentStateToWire(report.state),
            bytesDone: BigInt(report.bytesDone),
            bytesTotal: BigInt(report.bytesTotal),
            errorCode: report.errorCode,
            message: report.message,
            logTail: report.logTail ?? '',
            sequence: BigInt(report.sequence),
          },
          { signal, timeoutMs },
        ),
      );
    },
    async *watch(signal) {
      if (token === undefined) await authenticate(signal);
      const stream = async function* (): AsyncGenerator<WatchEvent> {
        for await (const message of client.watch({}, { signal })) {
          const { event } = message;
          if (event.case === 'checkIn') yield { kind: 'check-in' };
          else {
            // A heartbeat, or an event this agent does not know: the stream is alive.
            const interval = event.case === 'heartbeat' ? event.value.interval : undefined;
            yield {
              kind: 'heartbeat',
              intervalMs: interval === undefined ? undefined : durationMs(interval),
            };
          }
        }
      };
      let yielded = false;
      try {
        for await (const event of stream()) {
          yielded = true;
          yield event;
        }
      } catch (error) {
        if (yielded || !isPendulumError(error, 'UNAUTHENTICATED')) throw error;
        await authenticate(signal);
        yield* stream();
      }
    },
    close() {
      channel.close();
    },
  };
}
