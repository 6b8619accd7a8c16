// 0004: a rollout's plan (phases, selector, failure threshold, maintenance
// window, as JSON validated on read) and where it is: its current phase, when
// that phase started, and why it paused by itself.
import { type Kysely, type Migration, sql } from 'kysely';
import { dialectTypes } from './dialect-types.js';

export const rolloutPlans: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const { text, integer } = dialectTypes(db);
    await db.schema
      .alterTable('rollouts')
      .addColumn('plan', text, (c) => c.notNull().defaultTo('{}'))
      .execute();
    await db.schema
      .alterTable('rollouts')
      .addColumn('current_phase', integer, (c) => c.notNull().defaultTo(0))
      .execute();
    // A rollout from before plans has been in its one phase since it was made.
    await db.schema
      .alterTable('rollouts')
      .addColumn('phase_started_at', text, (c) => c.notNull().defaultTo(''))
      .execute();
    await sql`UPDATE rollouts SET phase_started_at = created_at`.execute(db);
    await db.schema
      .alterTable('rollouts')
      .addColumn('pause_reason', text, (c) => c.notNull().defaultTo(''))
      .execute();
  },
};
