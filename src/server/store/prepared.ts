// Queries built and compiled once, then run with new values: Kysely otherwise
// builds a tree of frozen nodes and compiles it to SQL on every call, which on
// a check-in costs about as much as SQLite answering the query.
import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import { InvariantError } from '../../errors.js';
import type { Database } from './schema.js';

// The stand-ins compiled in place of the values; no real value looks like them.
const sentinel = (i: number) => `\u0000pendulum-prepared-${i}\u0000`;

// prepared returns a function that runs the query `build` makes, with `arity`
// string values in the places `build` puts its arguments. The query is
// compiled on the first call (a store bound to a transaction that never runs
// it pays nothing) and reused by every later one.
export function prepared<R>(
  db: Kysely<Database>,
  arity: number,
  build: (db: Kysely<Database>, ...values: string[]) => Compilable<R>,
): (...values: string[]) => Promise<R[]> {
  let compiled: { query: CompiledQuery<R>; slots: number[] } | undefined;
  const compile = () => {
    const names = Array.from({ length: arity }, (_, i) => sentinel(i));
    const query = build(db, ...names).compile();
    const slots = names.map((name) => query.parameters.indexOf(name));
    // Each value must land in exactly one parameter, or reuse would be wrong.
    if (
      slots.some((slot) => slot < 0) ||
      names.some((name) => query.parameters.filter((p) => p === name).length !== 1)
    )
      throw new InvariantError(`prepared query does not use each value once: ${query.sql}`);
    return { query, slots };
  };
  return async (...values) => {
    if (values.length !== arity)
      throw new InvariantError(`prepared query takes ${arity} values, got ${values.length}`);
    compiled ??= compile();
    const parameters = [...compiled.query.parameters];
    compiled.slots.forEach((slot, i) => {
      parameters[slot] = values[i];
    });
    const result = await db.executeQuery<R>({ ...compiled.query, parameters });
    return result.rows;
  };
}
