// This replica's Watch streams: at most one per device and `maxStreams` in
// all, each ended after its maximum age or at shutdown, each with a
// heartbeat. notify() wakes the streams a change concerns, spread over time
// so that a change reaching many devices does not bring all their check-ins
// at once. A wake is only a hint: the device checks in and CheckIn decides.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { PendulumError } from '../../errors.js';
import type { WatchResponseSchema } from '../../gen/pendulum/v1/device_pb.js';
import type { DevicePrincipal } from '../auth.js';
import { createEventQueue, type EventQueue } from './event-queue.js';

export type WatchEvent = MessageInitShape<typeof WatchResponseSchema>;

// Who a change concerns: one device, a class, or (both null) every device.
export interface WatchScope {
  readonly classId: string | null;
  readonly deviceId: string | null;
}

export interface WatchHubOptions {
  readonly maxStreams: number;
  readonly maxAgeMs: number;
  readonly heartbeatMs: number;
  // Wakes per second this replica hands out.
  readonly wakeRate: number;
  readonly log: Logger;
  readonly random?: () => number;
}

export interface WatchHub {
  // open registers the device's stream (ending the one it had) and yields its
  // events until it ends; it throws RATE_LIMITED when maxStreams are open.
  open(device: DevicePrincipal, signal: AbortSignal): AsyncIterable<WatchEvent>;
  // notify wakes the streams in scope; it returns how many it scheduled.
  notify(scope: WatchScope): number;
  // Streams open now.
  readonly size: number;
  // close ends every stream and refuses new ones.
  close(): void;
}

interface Stream {
  readonly device: DevicePrincipal;
  readonly queue: EventQueue<WatchEvent>;
  // A wake scheduled and not yet sent.
  wake: NodeJS.Timeout | undefined;
  end(): void;
}

// Stream ages are spread over the last tenth of the maximum, so streams that
// opened together (after a restart) do not all reconnect together.
const ageSpread = 0.1;

// createWatchHub makes an empty hub.
export function createWatchHub(options: WatchHubOptions): WatchHub {
  const random = options.random ?? Math.random;
  const byDevice = new Map<string, Stream>();
  const byClass = new Map<string, Set<Stream>>();
  let closed = false;
  // Wakes already handed out run until this time (ms): later ones queue behind them.
  let busyUntil = 0;

  const heartbeat = (): WatchEvent => ({
    event: { case: 'heartbeat', value: { interval: durationFromMs(options.heartbeatMs) } },
  });
  const hint: WatchEvent = { event: { case: 'checkIn', value: {} } };

  const register = (device: DevicePrincipal, signal: AbortSignal): Stream => {
    const previous = byDevice.get(device.deviceId);
    if (previous !== undefined) previous.end();
    else if (byDevice.size >= options.maxStreams) {
      throw new PendulumError(
        'RATE_LIMITED',
        `this server has ${options.maxStreams} Watch streams open (max_watch_streams); poll instead and try again later`,
        { context: { limit: 'max_watch_streams' } },
      );
    }
    const queue = createEventQueue<WatchEvent>();
    const stream: Stream = {
      device,
      queue,
      wake: undefined,
      end() {
        clearInterval(beat);
        clearTimeout(age);
        clearTimeout(stream.wake);
        signal.removeEventListener('abort', stream.end);
        if (byDevice.get(device.deviceId) === stream) byDevice.delete(device.deviceId);
        const peers = byClass.get(device.classId);
        peers?.delete(stream);
        if (peers?.size === 0) byClass.delete(device.classId);
        queue.end();
      },
    };
    const beat = setInterval(() => queue.push(heartbeat(), 'heartbeat'), options.heartbeatMs);
    beat.unref();
    const age = setTimeout(stream.end, options.maxAgeMs * (1 - ageSpread * random()));
    age.unref();
    signal.addEventListener('abort', stream.end, { once: true });
    byDevice.set(device.deviceId, stream);
    const peers = byClass.get(device.classId) ?? new Set<Stream>();
    peers.add(stream);
    byClass.set(device.classId, peers);
    queue.push(heartbeat(), 'heartbeat');
    return stream;
  };

  const inScope = (scope: WatchScope): Stream[] => {
    if (scope.deviceId !== null) {
      const stream = byDevice.get(scope.deviceId);
      if (stream === undefined) return [];
      return scope.classId === null || stream.device.classId === scope.classId ? [stream] : [];
    }
    if (scope.classId !== null) return [...(byClass.get(scope.classId) ?? [])];
    return [...byDevice.values()];
  };

  return {
    open(device, signal) {
      return (async function* () {
        if (closed) throw new PendulumError('UNAVAILABLE', 'the server is shutting down');
        if (signal.aborted) return;
        const stream = register(device, signal);
        try {
          yield* stream.queue.drain();
        } finally {
          stream.end();
        }
      })();
    },

    notify(scope) {
      const targets = inScope(scope).filter((s) => s.wake === undefined);
      if (targets.length === 0) return 0;
      const now = Date.now();
      const start = Math.max(now, busyUntil);
      const spreadMs = (targets.length / options.wakeRate) * 1000;
      busyUntil = start + spreadMs;
      for (const stream of targets) {
        const delay = start - now + random() * spreadMs;
        if (delay < 1) {
          stream.queue.push(hint, 'checkIn');
          continue;
        }
        stream.wake = setTimeout(() => {
          stream.wake = undefined;
          stream.queue.push(hint, 'checkIn');
        }, delay);
        stream.wake.unref();
      }
      options.log.debug({ scope, devices: targets.length, spreadMs }, 'watch: waking devices');
      return targets.length;
    },

    get size() {
      return byDevice.size;
    },

    close() {
      closed = true;
      for (const stream of [...byDevice.values()]) stream.end();
    },
  };
}
