// Rollouts: which release is offered to which class, and whether it is
// currently being offered.
import type { Kysely } from 'kysely';
import { PendulumError } from '../../errors.js';
import { bytes, iso, num } from './rows.js';
import type { Database, RolloutState } from './schema.js';
import { guarded } from './store-error.js';

export interface StoredRollout {
  readonly id: string;
  readonly releaseId: string;
  readonly classId: string;
  readonly state: RolloutState;
  readonly createdAt: string;
  readonly updatedAt: string;
}

// A rollout as listed: with its release's version and sequence.
export interface RolloutSummary extends StoredRollout {
  readonly version: string;
  readonly sequence: number;
}

// An active rollout with what a check-in needs to make an offer.
export interface ActiveRollout extends RolloutSummary {
  readonly expiresAt: string;
  readonly signed: Uint8Array;
}

export type RolloutRepository = ReturnType<typeof createRolloutRepository>;

// createRolloutRepository binds the rollout functions to a database.
export function createRolloutRepository(db: Kysely<Database>) {
  const summaries = () =>
    db
      .selectFrom('rollouts')
      .innerJoin('releases', 'releases.id', 'rollouts.release_id')
      .select([
        'rollouts.id',
        'rollouts.release_id',
        'rollouts.class_id',
        'rollouts.state',
        'rollouts.created_at',
        'rollouts.updated_at',
        'releases.version',
        'releases.sequence',
      ]);

  type SummaryRow = Awaited<ReturnType<ReturnType<typeof summaries>['executeTakeFirstOrThrow']>>;
  const toSummary = (row: SummaryRow): RolloutSummary => ({
    id: row.id,
    releaseId: row.release_id,
    classId: row.class_id,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
    sequence: num(row.sequence),
  });

  const get = async (id: string): Promise<RolloutSummary | undefined> => {
    const row = await summaries().where('rollouts.id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toSummary(row);
  };

  return guarded('rollouts', {
    // create starts a rollout in the active state.
    async create(input: {
      id: string;
      releaseId: string;
      classId: string;
      now: Date;
    }): Promise<RolloutSummary> {
      const at = iso(input.now);
      await db
        .insertInto('rollouts')
        .values({
          id: input.id,
          release_id: input.releaseId,
          class_id: input.classId,
          state: 'active',
          created_at: at,
          updated_at: at,
        })
        .execute();
      const created = await get(input.id);
      if (created === undefined)
        throw new PendulumError('INTERNAL', `rollout ${input.id} vanished after insert`);
      return created;
    },

    // get returns one rollout with its release's version and sequence.
    get,

    // list returns every rollout, newest first.
    async list(): Promise<RolloutSummary[]> {
      const rows = await summaries()
        .orderBy('rollouts.created_at', 'desc')
        .orderBy('rollouts.id')
        .execute();
      return rows.map(toSummary);
    },

    // activeForClass lists what a device of the class may be offered, highest
    // release sequence first.
    async activeForClass(classId: string): Promise<ActiveRollout[]> {
      const rows = await summaries()
        .select(['releases.expires_at', 'releases.signed'])
        .where('rollouts.class_id', '=', classId)
        .where('rollouts.state', '=', 'active')
        .orderBy('releases.sequence', 'desc')
        .orderBy('rollouts.created_at', 'desc')
        .execute();
      return rows.map((row) => ({
        ...toSummary(row),
        expiresAt: row.expires_at,
        signed: bytes(row.signed),
      }));
    },

    // setState pauses, resumes or aborts a rollout.
    async setState(id: string, state: RolloutState, now: Date): Promise<RolloutSummary> {
      const result = await db
        .updateTable('rollouts')
        .set({ state, updated_at: iso(now) })
        .where('id', '=', id)
        .executeTakeFirst();
      const updated = Number(result.numUpdatedRows) === 0 ? undefined : await get(id);
      if (updated === undefined)
        throw new PendulumError('NOT_FOUND', `rollout ${id} not found`, {
          context: { rolloutId: id },
        });
      return updated;
    },
  });
}
