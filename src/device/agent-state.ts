// What the agent persists in its journal, and how it is validated on load.
import { toBinary } from '@bufbuild/protobuf';
import { z } from 'zod';
import { errorCodes } from '../errors.js';
import { type Signed, SignedSchema } from '../gen/pendulum/v1/manifest_pb.js';
import { deploymentStates } from '../wire/enums.js';
import { machineStates } from './state-machine.js';

const slotName = z.enum(['A', 'B']);

// A deployment the agent has accepted after verifying its manifest.
export const deploymentRecordSchema = z.object({
  id: z.string(),
  payloadId: z.string(),
  version: z.string(),
  sequence: z.number().int(),
  sha256: z.string(),
  size: z.number().int().nonnegative(),
  targetSlot: slotName,
  fromSlot: slotName,
  fromVersion: z.string(),
  bootAttempts: z.number().int().positive(),
  confirmDeadlineMs: z.number().int().positive(),
  // The anti-rollback floor to raise the device to on commit. A journal from
  // before the floor existed has none: 0 means "this release raises nothing",
  // not a default for the device's floor, which never defaults.
  rollbackFloor: z.number().int().nonnegative().default(0),
  // The rollout's maintenance window: outside it the agent installs but does
  // not arm the bootloader or reboot. Absent: activate at once.
  window: z
    .object({
      cron: z.string(),
      durationMs: z.number().int().positive(),
      timezone: z.string(),
    })
    .optional(),
});
export type DeploymentRecord = z.infer<typeof deploymentRecordSchema>;

const failureSchema = z.object({
  code: z.enum(errorCodes),
  message: z.string(),
  // The release failed its trial boot (health checks, or the boot itself), so
  // the device is back on its previous slot: reported as rolled back.
  trial: z.boolean().optional(),
});
export type Failure = z.infer<typeof failureSchema>;

// What the agent reports about the release it committed, at every check-in.
export const postCommitHealthSchema = z.object({
  // When it committed (epoch ms, device clock).
  committedAt: z.number().int(),
  // Agent starts since then (long-running agent only).
  restarts: z.number().int().nonnegative(),
  // Periodic health checks run and failed since then, and the last failure.
  checksRun: z.number().int().nonnegative(),
  checksFailed: z.number().int().nonnegative(),
  lastFailure: z.string(),
  // When the last periodic check ran (epoch ms).
  lastCheckAt: z.number().int(),
});
export type PostCommitHealth = z.infer<typeof postCommitHealthSchema>;

// A report waiting to reach the server; kept across reboots until acknowledged.
export const reportSchema = z.object({
  deploymentId: z.string(),
  state: z.enum(deploymentStates),
  bytesDone: z.number().int().nonnegative(),
  bytesTotal: z.number().int().nonnegative(),
  errorCode: z.string(),
  message: z.string(),
  // Strictly increasing across the device's reports; 0 only in a journal
  // written before reports carried one (renumbered on load).
  sequence: z.number().int().nonnegative().default(0),
});
export type PendingReport = z.infer<typeof reportSchema>;

export const agentStateSchema = z.object({
  format: z.literal(1),
  // The release the device runs when nothing is in progress.
  committed: z.object({
    slot: slotName,
    version: z.string(),
    sequence: z.number().int().nonnegative(),
  }),
  // The newest verified trust root: base64 of the Signed envelope bytes.
  trustRoot: z.string(),
  // The latest server time a verified freshness statement vouched for (epoch
  // ms): the agent's clock never reads earlier than this, so a device without
  // a real-time clock cannot be fooled into accepting expired documents. A
  // journal without it starts from the device's own clock.
  clockFloor: z.number().int().nonnegative().default(0),
  // What the agent knows about each slot's content.
  slots: z.object({
    A: z.object({ status: z.enum(['good', 'invalid', 'unknown']), version: z.string() }),
    B: z.object({ status: z.enum(['good', 'invalid', 'unknown']), version: z.string() }),
  }),
  machine: z.object({
    name: z.enum(machineStates),
    deployment: deploymentRecordSchema.optional(),
    // Bytes written and synced to the target slot.
    offset: z.number().int().nonnegative().default(0),
    // When the trial boot was first seen (epoch ms); the confirm deadline counts from here.
    verifyingSince: z.number().int().optional(),
    failure: failureSchema.optional(),
    // Installed and waiting for a maintenance window that opens then (epoch
    // ms; 0: never again), once that was reported.
    windowOpensAt: z.number().int().optional(),
  }),
  // How the committed release has fared since this agent committed it;
  // absent until the device commits a release itself.
  postCommit: postCommitHealthSchema.optional(),
  outbox: z.array(reportSchema),
  // The sequence of the last report queued (see reportSchema.sequence).
  reportSequence: z.number().int().nonnegative().default(0),
});
export type AgentState = z.infer<typeof agentStateSchema>;

// parseAgentState validates a journal's JSON; it throws a ZodError on mismatch.
export function parseAgentState(value: unknown): AgentState {
  const state = agentStateSchema.parse(value);
  if (state.outbox.every((report) => report.sequence > 0)) return state;
  // Queued before reports were numbered: number them after the last one.
  let next = state.reportSequence;
  const outbox = state.outbox.map((report) =>
    report.sequence > 0 ? report : { ...report, sequence: ++next },
  );
  return { ...state, outbox, reportSequence: Math.max(next, ...outbox.map((r) => r.sequence)) };
}

// factoryState is the journal of a factory-fresh device: the booted slot runs
// the factory release and the provisioned trust root is the one trusted.
export function factoryState(options: {
  booted: 'A' | 'B';
  version: string;
  sequence: number;
  trustRoot: Signed;
}): AgentState {
  const other = options.booted === 'A' ? 'B' : 'A';
  const slots = {
    [options.booted]: { status: 'good', version: options.version },
    [other]: { status: 'unknown', version: '' },
  } as AgentState['slots'];
  return {
    format: 1,
    committed: { slot: options.booted, version: options.version, sequence: options.sequence },
    trustRoot: Buffer.from(toBinary(SignedSchema, options.trustRoot)).toString('base64'),
    clockFloor: 0,
    slots,
    machine: { name: 'idle', offset: 0 },
    outbox: [],
    reportSequence: 0,
  };
}
