// Rollouts: which release is offered to which class, and whether it is
// currently being offered.
import type { Kysely } from 'kysely';
import { PendulumError } from '../../errors.js';
import { decodePlan, encodePlan, type RolloutPlan, wholeClassPlan } from '../rollouts/plan.js';
import type { StoreChanges } from './changes.js';
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
  readonly plan: RolloutPlan;
  // 0-based index into plan.phases, and when that phase started.
  readonly currentPhase: number;
  readonly phaseStartedAt: string;
  // Why the rollout paused by itself; '' when it did not.
  readonly pauseReason: string;
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
export function createRolloutRepository(db: Kysely<Database>, changes: StoreChanges) {
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
        'rollouts.plan',
        'rollouts.current_phase',
        'rollouts.phase_started_at',
        'rollouts.pause_reason',
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
    plan: decodePlan(row.plan, row.id),
    currentPhase: num(row.current_phase),
    phaseStartedAt: row.phase_started_at,
    pauseReason: row.pause_reason,
    version: row.version,
    sequence: num(row.sequence),
  });

  const get = async (id: string): Promise<RolloutSummary | undefined> => {
    const row = await summaries().where('rollouts.id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toSummary(row);
  };

  return guarded('rollouts', {
    // create starts a rollout in the active state, in its first phase; without
    // a plan it reaches the whole class at once.
    async create(input: {
      id: string;
      releaseId: string;
      classId: string;
      plan?: RolloutPlan;
      now: Date;
    }): Promise<RolloutSummary> {
      const at = iso(input.now);
      const plan = encodePlan(input.plan ?? wholeClassPlan);
      await db
        .insertInto('rollouts')
        .values({
          id: input.id,
          release_id: input.releaseId,
          class_id: input.classId,
          state: 'active',
          created_at: at,
          updated_at: at,
          plan,
          phase_started_at: at,
        })
        .execute();
      changes.rollouts++;
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
        // Ties in the same order on every backend and every replica.
        .orderBy('rollouts.id')
        .execute();
      return rows.map((row) => ({
        ...toSummary(row),
        expiresAt: row.expires_at,
        signed: bytes(row.signed),
      }));
    },

    // advancePhase moves an active rollout from phase `from` to the next; it
    // returns false, changing nothing, when the rollout is not in `from` any
    // more (another replica advanced it) or is not active. The condition is
    // in the database, so two replicas never both advance one phase.
    async advancePhase(id: string, from: number, now: Date): Promise<boolean> {
      const result = await db
        .updateTable('rollouts')
        .set({ current_phase: from + 1, phase_started_at: iso(now), updated_at: iso(now) })
        .where('id', '=', id)
        .where('current_phase', '=', from)
        .where('state', '=', 'active')
        .executeTakeFirst();
      changes.rollouts++;
      return Number(result.numUpdatedRows) === 1;
    },

    // pauseBySelf pauses an active rollout with the reason it gives; false
    // when it was not active (paused or aborted already).
    async pauseBySelf(id: string, reason: string, now: Date): Promise<boolean> {
      const result = await db
        .updateTable('rollouts')
        .set({ state: 'paused', pause_reason: reason, updated_at: iso(now) })
        .where('id', '=', id)
        .where('state', '=', 'active')
        .executeTakeFirst();
      changes.rollouts++;
      return Number(result.numUpdatedRows) === 1;
    },

    // setState pauses, resumes or aborts a rollout, only from one of the
    // states in `from` (checked in the database, so a pause and an abort at
    // once end in one of them, not a mix); `changed` is false when it was in
    // none of them. Resuming clears the reason it paused itself for.
    async setState(
      id: string,
      to: RolloutState,
      from: readonly RolloutState[],
      now: Date,
    ): Promise<{ rollout: RolloutSummary; changed: boolean; before: RolloutState | undefined }> {
      const before = (await get(id))?.state;
      const result = await db
        .updateTable('rollouts')
        .set({ state: to, updated_at: iso(now), ...(to === 'active' ? { pause_reason: '' } : {}) })
        .where('id', '=', id)
        .where('state', 'in', from)
        .executeTakeFirst();
      changes.rollouts++;
      const rollout = await get(id);
      if (rollout === undefined)
        throw new PendulumError('NOT_FOUND', `rollout ${id} not found`, {
          context: { rolloutId: id },
        });
      return { rollout, changed: Number(result.numUpdatedRows) === 1, before };
    },
  });
}
