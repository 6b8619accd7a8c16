// The fleet change log: one row per change after which devices may have a
// new offer, written in the transaction that makes the change, so every
// replica's Watch hub can wake the devices it serves. Rows are hints, read
// within seconds and pruned after an hour.
import type { Kysely } from 'kysely';
import { iso, num } from './rows.js';
import type { Database } from './schema.js';
import { guarded } from './store-error.js';

export interface FleetChange {
  readonly id: number;
  readonly at: string;
  // The class it concerns; null: every class.
  readonly classId: string | null;
  // The one device it concerns; null: the whole class.
  readonly deviceId: string | null;
}

// How long a change is kept: far longer than any replica takes to read it.
export const fleetChangeRetentionMs = 3_600_000;

export type FleetChangeRepository = ReturnType<typeof createFleetChangeRepository>;

// createFleetChangeRepository binds the change-log functions to a database.
export function createFleetChangeRepository(db: Kysely<Database>) {
  return guarded('fleetChanges', {
    // record appends one change and prunes those past retention.
    async record(input: {
      classId: string | null;
      deviceId?: string | null;
      now: Date;
    }): Promise<FleetChange> {
      const row = {
        at: iso(input.now),
        class_id: input.classId,
        device_id: input.deviceId ?? null,
      };
      const inserted = await db
        .insertInto('fleet_changes')
        .values(row)
        .returning('id')
        .executeTakeFirstOrThrow();
      await db
        .deleteFrom('fleet_changes')
        .where('at', '<', iso(new Date(input.now.getTime() - fleetChangeRetentionMs)))
        .execute();
      return { id: num(inserted.id), at: row.at, classId: row.class_id, deviceId: row.device_id };
    },

    // since lists changes made at or after `at` with an id above `afterId`,
    // by id, at most `limit` (a page).
    async since(at: Date, limit: number, afterId = 0): Promise<FleetChange[]> {
      const rows = await db
        .selectFrom('fleet_changes')
        .select(['id', 'at', 'class_id', 'device_id'])
        .where('at', '>=', iso(at))
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        id: num(r.id),
        at: r.at,
        classId: r.class_id,
        deviceId: r.device_id,
      }));
    },
  });
}
