// 0007: what each device last said about the release it committed (agent
// restarts and periodic health checks since its commit), for rollouts that
// watch their devices after commit.
import type { Kysely, Migration } from 'kysely';
import { dialectTypes } from './dialect-types.js';

export const postCommitHealth: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const { text, integer } = dialectTypes(db);
    await db.schema.alterTable('devices').addColumn('health_committed_at', text).execute();
    for (const column of ['health_restarts', 'health_checks_run', 'health_checks_failed'])
      await db.schema
        .alterTable('devices')
        .addColumn(column, integer, (c) => c.notNull().defaultTo(0))
        .execute();
    await db.schema
      .alterTable('devices')
      .addColumn('health_last_failure', text, (c) => c.notNull().defaultTo(''))
      .execute();
  },
};
