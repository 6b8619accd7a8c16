// An in-memory update source: one deployment offered until the device reports
// it finished, the payload served from any offset, every report recorded.

import { create, type MessageInitShape } from '@bufbuild/protobuf';
import type { PendingReport } from '../../src/device/agent-state.js';
import type { UpdateSource } from '../../src/device/source/source.js';
import {
  type MaintenanceWindowSchema,
  type Offer,
  OfferSchema,
} from '../../src/gen/pendulum/v1/device_pb.js';
import type { Signed } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { sha256, toHex } from '../../src/trust/index.js';
import { isFinalDeploymentState } from '../../src/wire/enums.js';
import { freshnessFor } from '../support/vendor.js';

export interface FakeSource extends UpdateSource {
  readonly reports: PendingReport[];
  // Check-ins answered so far.
  readonly checkIns: () => number;
  // Offsets the device asked to download from.
  readonly downloadOffsets: number[];
}

const chunkBytes = 256 * 1024;

export interface FakeSourceOptions {
  // The rollout's maintenance window, sent with the offer.
  readonly activationWindow?: MessageInitShape<typeof MaintenanceWindowSchema>;
  // The server's clock, for freshness statements (default: the real one).
  readonly now?: () => Date;
}

// createFakeSource offers `manifest` (signed for `payload`) as deployment `deploymentId`.
export function createFakeSource(
  deploymentId: string,
  manifest: Signed,
  payload: Uint8Array,
  options: FakeSourceOptions = {},
): FakeSource {
  const reports: PendingReport[] = [];
  const downloadOffsets: number[] = [];
  let checkIns = 0;
  const finished = () =>
    reports.some((r) => r.deploymentId === deploymentId && isFinalDeploymentState(r.state));
  const offer: Offer = create(OfferSchema, {
    deploymentId,
    manifest,
    payloads: [
      { component: 'rootfs', payloadId: toHex(sha256(payload)), size: BigInt(payload.length) },
    ],
    activationWindow: options.activationWindow,
  });
  return {
    reports,
    downloadOffsets,
    checkIns: () => checkIns,
    async checkIn(status) {
      checkIns++;
      const current = finished() ? undefined : offer;
      return {
        offer: current,
        pollIntervalMs: 1000,
        trustRoots: [],
        freshness: freshnessFor({
          nonce: status.nonce,
          offer: current,
          ...(options.now === undefined ? {} : { time: options.now() }),
        }),
      };
    },
    async *download(_id, _payloadId, offset) {
      downloadOffsets.push(offset);
      for (let at = offset; at < payload.length; at += chunkBytes) {
        yield { offset: at, data: payload.subarray(at, Math.min(at + chunkBytes, payload.length)) };
      }
    },
    async report(report) {
      reports.push({ ...report });
    },
    close() {},
  };
}
