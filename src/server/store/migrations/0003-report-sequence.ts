// 0003: the sequence of the last device report recorded per deployment, so a
// replayed or retried report is acknowledged without being recorded twice.
import type { Kysely, Migration } from 'kysely';
import { dialectTypes } from './dialect-types.js';

export const reportSequence: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const { integer } = dialectTypes(db);
    await db.schema
      .alterTable('deployments')
      .addColumn('report_sequence', integer, (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
