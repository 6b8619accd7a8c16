// 0006: the fleet change log, which every replica's Watch hub reads to wake
// the devices a change on another replica may give an offer.
import type { Kysely, Migration } from 'kysely';
import { dialectTypes } from './dialect-types.js';

export const fleetChanges: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const { identity, integer, text } = dialectTypes(db);
    await db.schema
      .createTable('fleet_changes')
      .addColumn('id', integer, identity)
      .addColumn('at', text, (c) => c.notNull())
      .addColumn('class_id', text)
      .addColumn('device_id', text)
      .execute();
    await db.schema.createIndex('fleet_changes_at').on('fleet_changes').column('at').execute();
  },
};
