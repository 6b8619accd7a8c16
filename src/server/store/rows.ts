// Small conversions shared by the repositories: database values to the plain
// results callers see (numbers, Uint8Array, ISO strings) and back.
import type { Kysely } from 'kysely';
import { PendulumError } from '../../errors.js';
import type { Database } from './schema.js';

// iso renders a caller's clock reading the way every timestamp column holds it.
export function iso(now: Date): string {
  return now.toISOString();
}

// num reads an integer column; PostgreSQL returns bigint columns as strings.
export function num(value: number | bigint | string): number {
  return Number(value);
}

// bytes copies a blob or bytea (a Buffer from better-sqlite3 or pg) into a plain Uint8Array.
export function bytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

// requireSafeInteger refuses values SQLite or JSON would silently round.
export function requireSafeInteger(value: number, field: string, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `${field} must be an integer ≥ ${min}, got ${value}`,
      { context: { field } },
    );
  }
}

// inTransaction runs fn in a transaction, or inside the caller's transaction
// when db already is one (Kysely cannot nest them).
export async function inTransaction<T>(
  db: Kysely<Database>,
  fn: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute(fn);
}
