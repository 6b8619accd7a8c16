// The slice of an agent runtime that downloadIntoSlot uses, for benchmarks:
// default settings, a silent log, slot B written while slot A is "booted".
import { pino } from 'pino';
import type { AgentRuntime } from '../src/device/runtime.js';
import type { Slot } from '../src/device/slots/slot.js';
import type { UpdateSource } from '../src/device/source/source.js';

// downloadRuntime builds that slice around two slots and a source.
export function downloadRuntime(
  slots: { A: Slot; B: Slot },
  source: Pick<UpdateSource, 'download'>,
): AgentRuntime {
  return {
    settings: {
      classId: 'bench',
      syncEveryBytes: 8 * 1024 * 1024,
      progressEveryMs: 2000,
      downloadIdleMs: 60_000,
      // The agent's defaults for slow retrieval (src/device/config.ts download.*).
      downloadMinBytesPerSec: 1024,
      downloadMinRateWindowMs: 5 * 60_000,
      downloadDeadlineMs: 6 * 3_600_000,
      inventory: {},
    },
    slots,
    source,
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
  } as unknown as AgentRuntime;
}

// benchDeployment is the deployment record for writing `size` bytes with `sha256` into slot B.
export function benchDeployment(id: string, sha256: string, size: number) {
  return {
    id,
    payloadId: sha256,
    version: 'bench',
    sequence: 2,
    sha256,
    size,
    targetSlot: 'B',
    fromSlot: 'A',
    fromVersion: 'factory',
    bootAttempts: 1,
    confirmDeadlineMs: 1000,
    rollbackFloor: 0,
  } as const;
}
