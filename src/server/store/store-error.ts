// One mapping from database failures to pendulum's error codes, and a wrapper
// that applies it to every function of a repository. SQLite (better-sqlite3
// `code`) and PostgreSQL (SQLSTATE `code`) failures of the same kind map to
// the same code.
import { type ErrorContext, errnoCode, InvariantError, PendulumError } from '../../errors.js';
import { storageError } from '../../fs/atomic-write.js';

// SQLite result codes (better-sqlite3 `code`) that mean the disk or the
// database file failed, not the request.
const storageCodes = [
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_READONLY',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_CANTOPEN',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
];

// PostgreSQL SQLSTATE classes and codes that mean the server, its disk or the
// connection to it failed, not the request: connection exception (08),
// insufficient resources such as a full disk (53), operator intervention such
// as a shutdown (57), system error (58), internal error or corruption (XX),
// no such database (3D), authentication (28), a serialization failure or
// deadlock (40: like SQLITE_BUSY, the same request may pass on a retry), a
// lock not available (55P03) and a read-only standby (25006).
const postgresStorageStates = ['08', '53', '57', '58', 'XX', '3D', '28', '40', '55P03', '25006'];

// What pg throws, without a SQLSTATE, when the connection itself fails.
const postgresConnectionFailures = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /is not queryable/,
  /^Cannot use a pool after calling end on the pool/,
];

// isSqlState tells whether a `code` is a PostgreSQL SQLSTATE (5 digits or
// upper-case letters; no class starts with E, unlike Node's errno codes).
function isSqlState(code: string): boolean {
  return /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code);
}

// storeError turns anything a database call threw into a PendulumError
// prefixed with `what`; programmer mistakes (InvariantError) pass through.
export function storeError(error: unknown, what: string): Error {
  if (error instanceof PendulumError || error instanceof InvariantError) return error;
  const code = errnoCode(error) ?? '';
  if (storageCodes.some((prefix) => code === prefix || code.startsWith(`${prefix}_`)))
    return storageFailure(error, what, { sqlite: code });
  if (code.startsWith('E')) return storageError(error, what);
  if (isSqlState(code) && postgresStorageStates.some((state) => code.startsWith(state)))
    return storageFailure(error, what, { sqlstate: code });
  if (
    code === '' &&
    error instanceof Error &&
    postgresConnectionFailures.some((pattern) => pattern.test(error.message))
  )
    return storageFailure(error, what, {});
  if (isUniqueViolation(error)) return PendulumError.from(error, 'ALREADY_EXISTS').withPrefix(what);
  // A row refers to one that does not exist (a release's payload, a deployment's device).
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') {
    return PendulumError.from(error, 'NOT_FOUND').withPrefix(what);
  }
  return PendulumError.from(error, 'INTERNAL').withPrefix(what);
}

function storageFailure(error: unknown, what: string, context: ErrorContext): PendulumError {
  const detail = error instanceof Error ? error.message : String(error);
  return new PendulumError('STORAGE_FAILED', `${what}: ${detail}`, { context, cause: error });
}

// isUniqueViolation tells whether an insert hit a primary key or unique
// constraint (SQLite or PostgreSQL).
export function isUniqueViolation(error: unknown): boolean {
  const code = errnoCode(error);
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505'
  );
}

type AsyncFunctions = Record<string, (...args: never[]) => Promise<unknown>>;

// guarded wraps each function of a repository so whatever it throws leaves as
// storeError(…, "<aggregate>.<function>").
export function guarded<T extends AsyncFunctions>(aggregate: string, functions: T): T {
  const wrapped: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(functions)) {
    const call = fn as (...args: unknown[]) => Promise<unknown>;
    wrapped[name] = async (...args) => {
      try {
        return await call(...args);
      } catch (error) {
        throw storeError(error, `${aggregate}.${name}`);
      }
    };
  }
  return wrapped as unknown as T;
}
