// The metadata schema as Kysely sees it. Timestamps are ISO-8601 UTC strings
// in text columns and binary is blob/bytea, so SQLite and PostgreSQL share it.
import type { ColumnType, Generated } from 'kysely';

// A column written once on insert and never updated.
type Immutable<T> = ColumnType<T, T, never>;

export type ApiRole = 'admin' | 'publisher' | 'viewer';
export type Admission = 'pending' | 'accepted' | 'rejected' | 'decommissioned';
export type RolloutState = 'active' | 'paused' | 'aborted';
export type Slot = 'A' | 'B';

export interface ApiTokensTable {
  id: Immutable<string>;
  name: string;
  role: ApiRole;
  token_hash: Immutable<string>;
  created_at: Immutable<string>;
  revoked_at: string | null;
}

export interface DeviceTokensTable {
  token_hash: Immutable<string>;
  device_id: Immutable<string>;
  expires_at: Immutable<string>;
}

// One enrolment token: admits up to `uses_left` more new devices of
// `class_id` until `expires_at`. Only the token's SHA-256 is stored.
export interface EnrolmentTokensTable {
  id: Immutable<string>;
  token_hash: Immutable<string>;
  class_id: Immutable<string>;
  uses_left: number;
  expires_at: Immutable<string>;
  created_by: Immutable<string>;
  created_at: Immutable<string>;
}

export interface TrustRootsTable {
  version: Immutable<number>;
  vendor_id: Immutable<string>;
  signed: Immutable<Uint8Array>;
  expires_at: Immutable<string>;
  created_at: Immutable<string>;
}

export interface PayloadsTable {
  id: Immutable<string>;
  size: Immutable<number>;
  created_at: Immutable<string>;
}

export interface ReleasesTable {
  id: Immutable<string>;
  vendor_id: Immutable<string>;
  class_id: Immutable<string>;
  sequence: Immutable<number>;
  version: Immutable<string>;
  expires_at: Immutable<string>;
  signed: Immutable<Uint8Array>;
  size: Immutable<number>;
  created_at: Immutable<string>;
}

export interface ReleasePayloadsTable {
  release_id: Immutable<string>;
  component: Immutable<string>;
  payload_id: Immutable<string>;
  size: Immutable<number>;
}

export interface RolloutsTable {
  id: Immutable<string>;
  release_id: Immutable<string>;
  class_id: Immutable<string>;
  state: RolloutState;
  created_at: Immutable<string>;
  updated_at: string;
  // JSON of RolloutPlan ('{}': a rollout made before plans, one phase of 100 %).
  plan: Generated<string>;
  current_phase: Generated<number>;
  phase_started_at: string;
  // Why the rollout paused by itself ('' when it did not).
  pause_reason: Generated<string>;
}

export interface DevicesTable {
  id: Immutable<string>;
  public_key: Immutable<Uint8Array>;
  class_id: string;
  admission: Admission;
  booted_slot: Slot | null;
  installed_version: string;
  committed_sequence: number;
  trust_root_version: number;
  agent_state: string;
  // JSON object of string → string.
  inventory: string;
  // Highest device-auth timestamp accepted so far (anti-replay).
  last_auth_ms: number;
  last_seen_at: string | null;
  created_at: Immutable<string>;
  updated_at: string;
  // JSON arrays of strings, matched by rollout selectors.
  tags: Generated<string>;
  groups: Generated<string>;
  // What the device last said about the release it committed: when (its
  // clock), agent restarts and periodic health checks since.
  health_committed_at: string | null;
  health_restarts: Generated<number>;
  health_checks_run: Generated<number>;
  health_checks_failed: Generated<number>;
  health_last_failure: Generated<string>;
}

export interface DeploymentsTable {
  id: Immutable<string>;
  device_id: Immutable<string>;
  release_id: Immutable<string>;
  rollout_id: Immutable<string | null>;
  state: string;
  bytes_done: number;
  bytes_total: number;
  error_code: string;
  message: string;
  log_tail: string;
  created_at: Immutable<string>;
  updated_at: string;
  finished_at: string | null;
  // The sequence of the last device report recorded (0: none yet).
  report_sequence: Generated<number>;
}

export interface DeploymentEventsTable {
  id: Generated<number>;
  deployment_id: Immutable<string>;
  state: Immutable<string>;
  error_code: Immutable<string>;
  message: Immutable<string>;
  at: Immutable<string>;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: Immutable<string>;
  actor: Immutable<string>;
  action: Immutable<string>;
  subject: Immutable<string>;
  // JSON object.
  detail: Immutable<string>;
}

// One change after which devices may have a new offer (a rollout created,
// resumed or widened, a device's labels changed): what each replica's Watch
// hub reads to wake the devices it serves. Rows older than an hour are pruned.
export interface FleetChangesTable {
  id: Generated<number>;
  at: Immutable<string>;
  // The class it concerns; null: every class.
  class_id: Immutable<string | null>;
  // The one device it concerns; null: the whole class.
  device_id: Immutable<string | null>;
}

export interface Database {
  api_tokens: ApiTokensTable;
  device_tokens: DeviceTokensTable;
  enrolment_tokens: EnrolmentTokensTable;
  trust_roots: TrustRootsTable;
  payloads: PayloadsTable;
  releases: ReleasesTable;
  release_payloads: ReleasePayloadsTable;
  rollouts: RolloutsTable;
  devices: DevicesTable;
  deployments: DeploymentsTable;
  deployment_events: DeploymentEventsTable;
  audit_log: AuditLogTable;
  fleet_changes: FleetChangesTable;
}
