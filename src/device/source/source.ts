// The update-source port: where offers and payloads come from (the server over
// gRPC; later a local bundle file with the same verification), and, from a
// server, hints of when to check in.

import type { Offer } from '../../gen/pendulum/v1/device_pb.js';
import type { Signed } from '../../gen/pendulum/v1/manifest_pb.js';
import type { PendingReport, PostCommitHealth } from '../agent-state.js';
import type { SlotName } from '../slots/slot.js';

export interface DeviceStatusReport {
  readonly bootedSlot: SlotName;
  readonly installedVersion: string;
  readonly committedSequence: number;
  readonly trustRootVersion: number;
  readonly agentState: string;
  readonly inventory: Readonly<Record<string, string>>;
  // How the committed release has fared since the agent committed it.
  readonly health?: PostCommitHealth | undefined;
  // Random, new for every check-in; the reply's freshness statement echoes it.
  readonly nonce: Uint8Array;
}

export interface CheckInResult {
  // Unverified: the agent verifies it before acting on it.
  readonly offer: Offer | undefined;
  readonly pollIntervalMs: number | undefined;
  // Unverified: trust roots newer than the device's, oldest first.
  readonly trustRoots: readonly Signed[];
  // Unverified: the server's signed Freshness for this check-in.
  readonly freshness: Signed | undefined;
}

export interface PayloadChunk {
  readonly offset: number;
  readonly data: Uint8Array;
}

// What a Watch stream says. Neither carries anything to act on: a check-in
// event only makes the agent check in as usual, and verify what that returns.
export type WatchEvent =
  | { readonly kind: 'check-in' }
  // The stream is alive; the next heartbeat is due within `intervalMs` (when known).
  | { readonly kind: 'heartbeat'; readonly intervalMs: number | undefined };

export interface UpdateSource {
  checkIn(status: DeviceStatusReport, signal: AbortSignal): Promise<CheckInResult>;
  download(
    deploymentId: string,
    payloadId: string,
    offset: number,
    signal: AbortSignal,
  ): AsyncIterable<PayloadChunk>;
  report(report: PendingReport & { logTail?: string }, signal: AbortSignal): Promise<void>;
  // watch opens a stream of hints that an offer may be waiting; sources that
  // cannot push (a local bundle) have none, and the agent only polls.
  watch?(signal: AbortSignal): AsyncIterable<WatchEvent>;
  close(): void;
}
