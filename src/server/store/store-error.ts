// One mapping from database failures to pendulum's error codes, and a wrapper
// that applies it to every function of a repository.
import { errnoCode, InvariantError, PendulumError } from '../../errors.js';
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

// storeError turns anything a database call threw into a PendulumError
// prefixed with `what`; programmer mistakes (InvariantError) pass through.
export function storeError(error: unknown, what: string): Error {
  if (error instanceof PendulumError || error instanceof InvariantError) return error;
  const code = errnoCode(error) ?? '';
  if (storageCodes.some((prefix) => code === prefix || code.startsWith(`${prefix}_`))) {
    const detail = error instanceof Error ? error.message : String(error);
    return new PendulumError('STORAGE_FAILED', `${what}: ${detail}`, {
      context: { sqlite: code },
      cause: error,
    });
  }
  if (code.startsWith('E')) return storageError(error, what);
  if (isUniqueViolation(error)) return PendulumError.from(error, 'ALREADY_EXISTS').withPrefix(what);
  // A row refers to one that does not exist (a release's payload, a deployment's device).
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') {
    return PendulumError.from(error, 'NOT_FOUND').withPrefix(what);
  }
  return PendulumError.from(error, 'INTERNAL').withPrefix(what);
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
