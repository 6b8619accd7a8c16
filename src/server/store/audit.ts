// The append-only audit log: who changed what, when. Nothing updates or
// deletes a row.
import type { Kysely } from 'kysely';
import { iso, num, requireSafeInteger } from './rows.js';
import type { Database } from './schema.js';
import { guarded } from './store-error.js';

export interface AuditEntry {
  readonly id: number;
  readonly at: string;
  // "token:<name>", "device:<id>", "server".
  readonly actor: string;
  // "<aggregate>.<verb>", e.g. "release.publish".
  readonly action: string;
  readonly subject: string;
  readonly detail: Record<string, unknown>;
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;

// createAuditRepository binds the audit functions to a database.
export function createAuditRepository(db: Kysely<Database>) {
  return guarded('audit', {
    // append records one change.
    async append(input: {
      actor: string;
      action: string;
      subject: string;
      detail: Record<string, unknown>;
      now: Date;
    }): Promise<AuditEntry> {
      const row = {
        at: iso(input.now),
        actor: input.actor,
        action: input.action,
        subject: input.subject,
        detail: JSON.stringify(input.detail),
      };
      const inserted = await db
        .insertInto('audit_log')
        .values(row)
        .returning('id')
        .executeTakeFirstOrThrow();
      return {
        id: num(inserted.id),
        at: row.at,
        actor: row.actor,
        action: row.action,
        subject: row.subject,
        detail: JSON.parse(row.detail) as Record<string, unknown>,
      };
    },

    // list returns the latest `limit` entries that match, newest first;
    // `beforeId` pages back from an entry already seen.
    async list(options: {
      limit: number;
      subject?: string;
      actor?: string;
      // "rollout." matches every rollout action; "rollout.abort" just that one.
      actionPrefix?: string;
      beforeId?: number;
    }): Promise<AuditEntry[]> {
      requireSafeInteger(options.limit, 'limit', 1);
      let query = db.selectFrom('audit_log').selectAll();
      if (options.subject !== undefined) query = query.where('subject', '=', options.subject);
      if (options.actor !== undefined) query = query.where('actor', '=', options.actor);
      if (options.actionPrefix !== undefined) {
        // Prefix compare without LIKE, whose case rules and escapes differ by database.
        const prefix = options.actionPrefix;
        query = query.where((eb) =>
          eb(eb.fn('substr', ['action', eb.val(1), eb.val(prefix.length)]), '=', prefix),
        );
      }
      if (options.beforeId !== undefined) query = query.where('id', '<', options.beforeId);
      const rows = await query.orderBy('id', 'desc').limit(options.limit).execute();
      return rows.map((row) => ({
        id: num(row.id),
        at: row.at,
        actor: row.actor,
        action: row.action,
        subject: row.subject,
        detail: JSON.parse(row.detail) as Record<string, unknown>,
      }));
    },
  });
}
