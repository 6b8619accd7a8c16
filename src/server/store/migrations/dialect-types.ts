// The two column types SQLite and PostgreSQL spell differently; every other
// column uses text, integer or bigint, which both accept as written.
import { type ColumnDefinitionBuilder, type Kysely, PostgresAdapter } from 'kysely';

export interface DialectTypes {
  // Raw bytes: `blob` in SQLite, `bytea` in PostgreSQL.
  readonly binary: 'blob' | 'bytea';
  // Makes an integer column an auto-assigned, never-reused primary key.
  readonly identity: (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
}

// dialectTypes picks the spellings for the database a migration runs against.
export function dialectTypes(db: Kysely<unknown>): DialectTypes {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    return {
      binary: 'bytea',
      identity: (column) => column.generatedAlwaysAsIdentity().primaryKey(),
    };
  }
  return { binary: 'blob', identity: (column) => column.autoIncrement().primaryKey() };
}
