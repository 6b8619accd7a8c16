// 0005: a device's tags and groups (JSON arrays of strings), which rollout
// selectors match.
import type { Kysely, Migration } from 'kysely';

export const deviceLabels: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('devices')
      .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();
    await db.schema
      .alterTable('devices')
      .addColumn('groups', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();
  },
};
