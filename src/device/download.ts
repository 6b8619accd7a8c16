// Stream a payload straight into the inactive slot while hashing it: no
// temporary copy of the image, size and digest checked as bytes arrive, the
// offset recorded after each sync so a killed agent resumes where it was, and
// a stream too slow to finish (slow retrieval) cut off.
import { createHash, type Hash } from 'node:crypto';
import { PendulumError } from '../errors.js';
import type { DeploymentRecord } from './agent-state.js';
import { withIdleTimeout } from './idle-timeout.js';
import { withMinRate } from './min-rate.js';
import type { AgentRuntime } from './runtime.js';

export interface DownloadHooks {
  // Called after everything up to `offset` is durable in the slot.
  readonly synced: (offset: number) => Promise<void>;
  // Called as bytes arrive (throttle inside); awaited, so reports stay in order.
  readonly progress: (offset: number) => Promise<void>;
}

// downloadIntoSlot writes the payload from `offset` to its end and returns
// once the whole slot prefix matches the manifest's size and digest.
export async function downloadIntoSlot(
  rt: AgentRuntime,
  deployment: DeploymentRecord,
  offset: number,
  hooks: DownloadHooks,
): Promise<void> {
  const target = rt.slots[deployment.targetSlot];
  const booted = rt.slots[deployment.fromSlot];
  const hash = createHash('sha256');
  // Resuming: the hash must cover what an earlier run already wrote.
  if (offset > 0) {
    rt.log.info(
      { deployment: deployment.id, offset, size: deployment.size },
      `agent: resuming the download at byte ${offset} of ${deployment.size}`,
    );
    await hashPrefix(rt, deployment, offset, hash);
  }
  const writer = await target.openWriter(offset, booted, rt.signal);
  let closed = false;
  // The call gets its own signal, so a stalled stream can be cancelled without stopping the agent.
  const call = new AbortController();
  const stop = () => call.abort();
  rt.signal.addEventListener('abort', stop, { once: true });
  try {
    let unsynced = 0;
    const chunks = rt.source.download(deployment.id, deployment.payloadId, offset, call.signal);
    // A silent stream is retried (UNAVAILABLE); one that trickles, or takes
    // too long overall, fails the deployment (TOO_SLOW: slow retrieval).
    const paced = withMinRate(
      withIdleTimeout(chunks, rt.settings.downloadIdleMs, 'payload download', stop),
      {
        minBytesPerSec: rt.settings.downloadMinBytesPerSec,
        windowMs: rt.settings.downloadMinRateWindowMs,
        deadlineMs: rt.settings.downloadDeadlineMs,
        what: 'payload download',
        bytes: (c) => c.data.length,
        onSlow: stop,
      },
    );
    for await (const chunk of paced) {
      if (chunk.offset !== writer.position) {
        throw new PendulumError(
          'MALFORMED',
          `payload chunk at offset ${chunk.offset}, expected ${writer.position}`,
        );
      }
      if (writer.position + chunk.data.length > deployment.size) {
        throw new PendulumError(
          'SIZE_MISMATCH',
          `payload stream is longer than the ${deployment.size} bytes the manifest says`,
          {
            context: { expected: deployment.size, received: writer.position + chunk.data.length },
          },
        );
      }
      hash.update(chunk.data);
      await writer.write(chunk.data);
      unsynced += chunk.data.length;
      if (unsynced >= rt.settings.syncEveryBytes) {
        await writer.sync();
        unsynced = 0;
        await hooks.synced(writer.position);
      }
      await hooks.progress(writer.position);
    }
    if (writer.position !== deployment.size) {
      throw new PendulumError(
        'SIZE_MISMATCH',
        `payload stream ended at ${writer.position} of ${deployment.size} bytes`,
        {
          context: { expected: deployment.size, received: writer.position },
        },
      );
    }
    closed = true;
    await writer.close();
  } finally {
    rt.signal.removeEventListener('abort', stop);
    if (!closed) await writer.close().catch(() => undefined);
  }
  const digest = hash.digest('hex');
  if (digest !== deployment.sha256) {
    throw new PendulumError(
      'DIGEST_MISMATCH',
      `payload SHA-256 ${digest} is not the manifest's ${deployment.sha256}`,
      {
        context: { expected: deployment.sha256, actual: digest },
      },
    );
  }
  await hooks.synced(writer.position);
}

async function hashPrefix(
  rt: AgentRuntime,
  deployment: DeploymentRecord,
  length: number,
  hash: Hash,
): Promise<void> {
  for await (const chunk of rt.slots[deployment.targetSlot].read(0, length, rt.signal))
    hash.update(chunk);
}
