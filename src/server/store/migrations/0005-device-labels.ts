// 0005: a device's tags and groups (JSON arrays of strings), which rollout
// selectors match.
import type { Kysely, Migration } from 'kysely';
import { dialectTypes } from './dialect-types.js';

export const deviceLabels: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const { text } = dialectTypes(db);
    await db.schema
      .alterTable('devices')
      .addColumn('tags', text, (c) => c.notNull().defaultTo('[]'))
      .execute();
    await db.schema
      .alterTable('devices')
      .addColumn('groups', text, (c) => c.notNull().defaultTo('[]'))
      .execute();
  },
};
