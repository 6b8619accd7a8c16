// Every migration, in order, compiled in: the server runs from dist/, where
// scanning a directory for .ts files would find nothing.
import type { Migration, MigrationProvider } from 'kysely';
import { initial } from './0001-initial.js';
import { enrolmentTokens } from './0002-enrolment-tokens.js';
import { reportSequence } from './0003-report-sequence.js';
import { rolloutPlans } from './0004-rollout-plans.js';
import { deviceLabels } from './0005-device-labels.js';
import { fleetChanges } from './0006-fleet-changes.js';
import { postCommitHealth } from './0007-post-commit-health.js';
import { auditAppendOnly } from './0008-audit-append-only.js';

// Names sort in the order they apply; never rename or edit a shipped one.
export const migrations: Readonly<Record<string, Migration>> = {
  '0001-initial': initial,
  '0002-enrolment-tokens': enrolmentTokens,
  '0003-report-sequence': reportSequence,
  '0004-rollout-plans': rolloutPlans,
  '0005-device-labels': deviceLabels,
  '0006-fleet-changes': fleetChanges,
  '0007-post-commit-health': postCommitHealth,
  '0008-audit-append-only': auditAppendOnly,
};

// staticMigrationProvider hands Kysely's Migrator a fixed set of migrations.
export function staticMigrationProvider(
  set: Readonly<Record<string, Migration>> = migrations,
): MigrationProvider {
  return { getMigrations: async () => ({ ...set }) };
}
