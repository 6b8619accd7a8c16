// The column types SQLite and PostgreSQL spell differently, so that one
// migration gives both the same logical schema. SQLite keeps the spellings it
// has always had; only what PostgreSQL is told differs.
import {
  type ColumnDefinitionBuilder,
  type Kysely,
  PostgresAdapter,
  type RawBuilder,
  sql,
} from 'kysely';

export interface DialectTypes {
  // Text compared and sorted by its bytes, as SQLite's BINARY collation does:
  // PostgreSQL's default collation follows the server's locale (en_US sorts
  // "b" before "C"), which would make listings differ between the two.
  readonly text: 'text' | RawBuilder<unknown>;
  // A 64-bit integer: every SQLite INTEGER is one, a PostgreSQL `integer` is
  // 32 bits and would refuse values SQLite stores.
  readonly integer: 'integer' | 'bigint';
  // Raw bytes: `blob` in SQLite, `bytea` in PostgreSQL.
  readonly binary: 'blob' | 'bytea';
  // Makes an `integer` column an auto-assigned, never-reused primary key.
  readonly identity: (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
}

// dialectTypes picks the spellings for the database a migration runs against.
export function dialectTypes(db: Kysely<unknown>): DialectTypes {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    return {
      text: sql`text collate "C"`,
      integer: 'bigint',
      binary: 'bytea',
      identity: (column) => column.generatedAlwaysAsIdentity().primaryKey(),
    };
  }
  return {
    text: 'text',
    integer: 'integer',
    binary: 'blob',
    identity: (column) => column.autoIncrement().primaryKey(),
  };
}
