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

    // list returns the latest `limit` entries, newest first.
    async list(options: { limit: number }): Promise<AuditEntry[]> {
      requireSafeInteger(options.limit, 'limit', 1);
      const rows = await db
        .selectFrom('audit_log')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(options.limit)
        .execute();
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
