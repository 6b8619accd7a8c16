// 0008: the audit log refuses UPDATE and DELETE in the database itself, so
// no code path, and no one with a SQL prompt short of dropping the trigger,
// rewrites history.
import { type Kysely, type Migration, PostgresAdapter, sql } from 'kysely';

export const auditAppendOnly: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      await sql`
        CREATE FUNCTION pendulum_audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
        END
        $$`.execute(db);
      await sql`
        CREATE TRIGGER audit_log_append_only
        BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION pendulum_audit_log_append_only()`.execute(db);
      await sql`
        CREATE TRIGGER audit_log_no_truncate
        BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION pendulum_audit_log_append_only()`.execute(db);
      return;
    }
    for (const operation of ['UPDATE', 'DELETE'])
      await sql
        .raw(
          `CREATE TRIGGER audit_log_no_${operation.toLowerCase()} BEFORE ${operation} ON audit_log
           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: ${operation} refused'); END`,
        )
        .execute(db);
  },
};
