// An in-memory update source: one deployment offered until the device reports
// it finished, the payload served from any offset, every report recorded.

import { create } from '@bufbuild/protobuf';
import type { PendingReport } from '../../src/device/agent-state.js';
import type { UpdateSource } from '../../src/device/source/source.js';
import type { Offer } from '../../src/gen/pendulum/v1/device_pb.js';
import { OfferSchema } from '../../src/gen/pendulum/v1/device_pb.js';
import type { Signed } from '../../src/gen/pendulum/v1/manifest_pb.js';
import { sha256, toHex } from '../../src/trust/index.js';
import { isFinalDeploymentState } from '../../src/wire/enums.js';
import { freshnessFor } from '../support/vendor.js';

export interface FakeSource extends UpdateSource {
  readonly reports: PendingReport[];
  // Offsets the device asked to download from.
  readonly downloadOffsets: number[];
}

const chunkBytes = 256 * 1024;

// createFakeSource offers `manifest` (signed for `payload`) as deployment `deploymentId`.
export function createFakeSource(
  deploymentId: string,
  manifest: Signed,
  payload: Uint8Array,
): FakeSource {
  const reports: PendingReport[] = [];
  const downloadOffsets: number[] = [];
  const finished = () =>
    reports.some((r) => r.deploymentId === deploymentId && isFinalDeploymentState(r.state));
  const offer: Offer = create(OfferSchema, {
    deploymentId,
    manifest,
    payloads: [
      { component: 'rootfs', payloadId: toHex(sha256(payload)), size: BigInt(payload.length) },
    ],
  });
  return {
    reports,
    downloadOffsets,
    async checkIn(status) {
      const current = finished() ? undefined : offer;
      return {
        offer: current,
        pollIntervalMs: 1000,
        trustRoots: [],
        freshness: freshnessFor({ nonce: status.nonce, offer: current }),
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
