// The logical shape of a migrated schema, read from each backend's catalog
// and written the same way for both, so a test can tell that SQLite and
// PostgreSQL hold the same tables, columns, keys and indexes.
import { type Kysely, sql } from 'kysely';

export interface SchemaShape {
  // "table.column type [not null] [default …] [auto id]", type being
  // text, integer (64-bit) or binary.
  readonly columns: string[];
  // "table: primary key (a, b)" and "table: unique (a)".
  readonly keys: string[];
  // "name on table (a, b)", for the indexes the migrations create.
  readonly indexes: string[];
  // "table.column -> table.column".
  readonly foreignKeys: string[];
}

const ours = (table: string) => !table.startsWith('kysely_') && !table.startsWith('sqlite_');

// Defaults as written, without PostgreSQL's casts: '{}'::text is '{}'.
const plainDefault = (value: string | null) =>
  value === null ? '' : ` default ${value.replace(/::[a-z ]+$/, '')}`;

const sorted = (items: Iterable<string>) => [...new Set(items)].sort();

// sqliteShape reads the shape from SQLite's pragmas.
export async function sqliteShape<DB>(db: Kysely<DB>): Promise<SchemaShape> {
  const rows = async <T>(query: string) => (await sql.raw<T>(query).execute(db)).rows;
  const tables = (
    await rows<{ name: string; sql: string }>(
      "select name, sql from sqlite_master where type = 'table'",
    )
  ).filter((table) => ours(table.name));
  const types: Record<string, string> = { text: 'text', integer: 'integer', bigint: 'integer' };
  const columns: string[] = [];
  const keys: string[] = [];
  const indexes: string[] = [];
  const foreignKeys: string[] = [];
  for (const table of tables) {
    const info = await rows<{
      name: string;
      type: string;
      notnull: number;
      dflt_value: string | null;
      pk: number;
    }>(`pragma table_info("${table.name}")`);
    for (const column of info) {
      const auto = new RegExp(`"${column.name}" integer primary key autoincrement`).test(table.sql);
      const type = column.type.toLowerCase();
      columns.push(
        `${table.name}.${column.name} ${type === 'blob' ? 'binary' : (types[type] ?? type)}` +
          `${column.notnull || column.pk ? ' not null' : ''}${plainDefault(column.dflt_value)}${auto ? ' auto id' : ''}`,
      );
    }
    const pk = info.filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk);
    if (pk.length > 0)
      keys.push(`${table.name}: primary key (${pk.map((c) => c.name).join(', ')})`);
    for (const index of await rows<{ name: string; unique: number; origin: string }>(
      `pragma index_list("${table.name}")`,
    )) {
      const names = (await rows<{ name: string }>(`pragma index_info("${index.name}")`))
        .map((column) => column.name)
        .join(', ');
      if (index.origin === 'u') keys.push(`${table.name}: unique (${names})`);
      else if (index.origin === 'c') indexes.push(`${index.name} on ${table.name} (${names})`);
    }
    for (const key of await rows<{ table: string; from: string; to: string }>(
      `pragma foreign_key_list("${table.name}")`,
    ))
      foreignKeys.push(`${table.name}.${key.from} -> ${key.table}.${key.to}`);
  }
  return {
    columns: sorted(columns),
    keys: sorted(keys),
    indexes: sorted(indexes),
    foreignKeys: sorted(foreignKeys),
  };
}

// postgresShape reads the shape from PostgreSQL's information_schema and pg_indexes.
export async function postgresShape<DB>(db: Kysely<DB>): Promise<SchemaShape> {
  const rows = async <T>(query: string) => (await sql.raw<T>(query).execute(db)).rows;
  // A PostgreSQL `integer` is 32 bits: not what SQLite's INTEGER holds.
  const types: Record<string, string> = {
    text: 'text',
    bigint: 'integer',
    bytea: 'binary',
    integer: 'int32',
  };
  const columns = (
    await rows<{
      table_name: string;
      column_name: string;
      data_type: string;
      is_nullable: string;
      column_default: string | null;
      is_identity: string;
    }>(
      `select table_name, column_name, data_type, is_nullable, column_default, is_identity
       from information_schema.columns where table_schema = 'public'`,
    )
  )
    .filter((column) => ours(column.table_name))
    .map(
      (column) =>
        `${column.table_name}.${column.column_name} ${types[column.data_type] ?? column.data_type}` +
        `${column.is_nullable === 'NO' ? ' not null' : ''}${plainDefault(column.column_default)}` +
        `${column.is_identity === 'YES' ? ' auto id' : ''}`,
    );
  const keys = (
    await rows<{ table_name: string; constraint_type: string; names: string }>(
      `select tc.table_name, tc.constraint_type,
              string_agg(kcu.column_name::text, ', ' order by kcu.ordinal_position) as names
       from information_schema.table_constraints tc
       join information_schema.key_column_usage kcu
         on kcu.constraint_schema = tc.constraint_schema and kcu.constraint_name = tc.constraint_name
       where tc.table_schema = 'public' and tc.constraint_type in ('PRIMARY KEY', 'UNIQUE')
       group by tc.table_name, tc.constraint_type, tc.constraint_name`,
    )
  )
    .filter((key) => ours(key.table_name))
    .map((key) => `${key.table_name}: ${key.constraint_type.toLowerCase()} (${key.names})`);
  const indexes = (
    await rows<{ indexname: string; tablename: string; indexdef: string }>(
      `select indexname, tablename, indexdef from pg_indexes where schemaname = 'public'`,
    )
  )
    .filter((index) => ours(index.tablename) && !index.indexdef.startsWith('CREATE UNIQUE'))
    .map(
      (index) =>
        `${index.indexname} on ${index.tablename} (${/\(([^)]*)\)$/.exec(index.indexdef)?.[1] ?? '?'})`,
    );
  const foreignKeys = (
    await rows<{ table_name: string; column_name: string; ref_table: string; ref_column: string }>(
      `select kcu.table_name, kcu.column_name, ccu.table_name as ref_table, ccu.column_name as ref_column
       from information_schema.table_constraints tc
       join information_schema.key_column_usage kcu
         on kcu.constraint_schema = tc.constraint_schema and kcu.constraint_name = tc.constraint_name
       join information_schema.constraint_column_usage ccu
         on ccu.constraint_schema = tc.constraint_schema and ccu.constraint_name = tc.constraint_name
       where tc.table_schema = 'public' and tc.constraint_type = 'FOREIGN KEY'`,
    )
  ).map((key) => `${key.table_name}.${key.column_name} -> ${key.ref_table}.${key.ref_column}`);
  return {
    columns: sorted(columns),
    keys: sorted(keys),
    indexes: sorted(indexes),
    foreignKeys: sorted(foreignKeys),
  };
}

// textColumnCollations lists PostgreSQL's text columns with their collation
// ("default" when the column has none of its own).
export async function textColumnCollations<DB>(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ table_name: string; column_name: string; collation: string }>`
    select table_name, column_name, coalesce(collation_name, 'default') as collation
    from information_schema.columns
    where table_schema = 'public' and data_type = 'text'`.execute(db);
  return rows
    .filter((row) => ours(row.table_name))
    .map((row) => `${row.table_name}.${row.column_name} ${row.collation}`)
    .sort();
}
