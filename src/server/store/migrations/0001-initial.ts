// 0001: the initial schema (see ../schema.ts for what each column means).
import type { Kysely, Migration } from 'kysely';
import { dialectTypes } from './dialect-types.js';

export const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const { text, integer, binary, identity } = dialectTypes(db);

    await db.schema
      .createTable('api_tokens')
      .addColumn('id', text, (c) => c.primaryKey())
      .addColumn('name', text, (c) => c.notNull())
      .addColumn('role', text, (c) => c.notNull())
      .addColumn('token_hash', text, (c) => c.notNull().unique())
      .addColumn('created_at', text, (c) => c.notNull())
      .addColumn('revoked_at', text)
      .execute();

    await db.schema
      .createTable('trust_roots')
      .addColumn('version', integer, (c) => c.primaryKey())
      .addColumn('vendor_id', text, (c) => c.notNull())
      .addColumn('signed', binary, (c) => c.notNull())
      .addColumn('expires_at', text, (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('payloads')
      .addColumn('id', text, (c) => c.primaryKey())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('releases')
      .addColumn('id', text, (c) => c.primaryKey())
      .addColumn('vendor_id', text, (c) => c.notNull())
      .addColumn('class_id', text, (c) => c.notNull())
      .addColumn('sequence', 'bigint', (c) => c.notNull())
      .addColumn('version', text, (c) => c.notNull())
      .addColumn('expires_at', text, (c) => c.notNull())
      .addColumn('signed', binary, (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      // Anti-rollback: one release per (class, sequence).
      .addUniqueConstraint('releases_class_sequence_unique', ['class_id', 'sequence'])
      .execute();

    await db.schema
      .createTable('release_payloads')
      .addColumn('release_id', text, (c) => c.notNull().references('releases.id'))
      .addColumn('component', text, (c) => c.notNull())
      .addColumn('payload_id', text, (c) => c.notNull().references('payloads.id'))
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('release_payloads_pk', ['release_id', 'component'])
      .execute();
    await db.schema
      .createIndex('release_payloads_payload')
      .on('release_payloads')
      .column('payload_id')
      .execute();

    await db.schema
      .createTable('rollouts')
      .addColumn('id', text, (c) => c.primaryKey())
      .addColumn('release_id', text, (c) => c.notNull().references('releases.id'))
      .addColumn('class_id', text, (c) => c.notNull())
      .addColumn('state', text, (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      .addColumn('updated_at', text, (c) => c.notNull())
      .execute();
    // activeForClass, on every device check-in.
    await db.schema
      .createIndex('rollouts_class_state')
      .on('rollouts')
      .columns(['class_id', 'state'])
      .execute();
    await db.schema.createIndex('rollouts_release').on('rollouts').column('release_id').execute();

    await db.schema
      .createTable('devices')
      .addColumn('id', text, (c) => c.primaryKey())
      .addColumn('public_key', binary, (c) => c.notNull())
      .addColumn('class_id', text, (c) => c.notNull())
      .addColumn('admission', text, (c) => c.notNull())
      .addColumn('booted_slot', text)
      .addColumn('installed_version', text, (c) => c.notNull())
      .addColumn('committed_sequence', 'bigint', (c) => c.notNull())
      .addColumn('trust_root_version', integer, (c) => c.notNull())
      .addColumn('agent_state', text, (c) => c.notNull())
      .addColumn('inventory', text, (c) => c.notNull())
      .addColumn('last_auth_ms', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', text)
      .addColumn('created_at', text, (c) => c.notNull())
      .addColumn('updated_at', text, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('devices_class')
      .on('devices')
      .columns(['class_id', 'created_at'])
      .execute();

    await db.schema
      .createTable('device_tokens')
      .addColumn('token_hash', text, (c) => c.primaryKey())
      .addColumn('device_id', text, (c) => c.notNull().references('devices.id'))
      .addColumn('expires_at', text, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('device_tokens_device')
      .on('device_tokens')
      .column('device_id')
      .execute();
    await db.schema
      .createIndex('device_tokens_expires')
      .on('device_tokens')
      .column('expires_at')
      .execute();

    await db.schema
      .createTable('deployments')
      .addColumn('id', text, (c) => c.primaryKey())
      .addColumn('device_id', text, (c) => c.notNull().references('devices.id'))
      .addColumn('release_id', text, (c) => c.notNull().references('releases.id'))
      .addColumn('rollout_id', text, (c) => c.references('rollouts.id'))
      .addColumn('state', text, (c) => c.notNull())
      .addColumn('bytes_done', 'bigint', (c) => c.notNull())
      .addColumn('bytes_total', 'bigint', (c) => c.notNull())
      .addColumn('error_code', text, (c) => c.notNull())
      .addColumn('message', text, (c) => c.notNull())
      .addColumn('log_tail', text, (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      .addColumn('updated_at', text, (c) => c.notNull())
      .addColumn('finished_at', text)
      // One deployment of a release per device; it also serves lookups by device.
      .addUniqueConstraint('deployments_device_release_unique', ['device_id', 'release_id'])
      .execute();
    await db.schema
      .createIndex('deployments_rollout')
      .on('deployments')
      .columns(['rollout_id', 'state'])
      .execute();
    await db.schema
      .createIndex('deployments_release')
      .on('deployments')
      .column('release_id')
      .execute();

    await db.schema
      .createTable('deployment_events')
      .addColumn('id', integer, identity)
      .addColumn('deployment_id', text, (c) => c.notNull().references('deployments.id'))
      .addColumn('state', text, (c) => c.notNull())
      .addColumn('error_code', text, (c) => c.notNull())
      .addColumn('message', text, (c) => c.notNull())
      .addColumn('at', text, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('deployment_events_deployment')
      .on('deployment_events')
      .columns(['deployment_id', 'id'])
      .execute();

    await db.schema
      .createTable('audit_log')
      .addColumn('id', integer, identity)
      .addColumn('at', text, (c) => c.notNull())
      .addColumn('actor', text, (c) => c.notNull())
      .addColumn('action', text, (c) => c.notNull())
      .addColumn('subject', text, (c) => c.notNull())
      .addColumn('detail', text, (c) => c.notNull())
      .execute();
  },
};
