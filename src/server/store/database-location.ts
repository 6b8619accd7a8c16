// Where the metadata database is: an embedded SQLite file, or a PostgreSQL
// server named by a URL. The URL may carry a password, so it is only ever
// shown through redactDatabaseUrl.
import { PendulumError } from '../../errors.js';

export type DatabaseLocation =
  // The embedded SQLite file; its directory is created if missing.
  | { readonly path: string }
  // postgres://user[:password]@host[:port]/database[?sslmode=…]
  | { readonly url: string };

export type DatabaseBackend = 'sqlite' | 'postgres';

// The URL schemes the `database` setting accepts, and what each selects.
const schemes: Readonly<Record<string, DatabaseBackend>> = {
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
};

// backendOf tells which backend serves a location.
export function backendOf(location: DatabaseLocation): DatabaseBackend {
  return 'url' in location ? 'postgres' : 'sqlite';
}

// databaseUrlProblem says what is wrong with a `database` setting, or
// undefined when a backend accepts it. It never repeats the URL, which may
// hold a password.
export function databaseUrlProblem(value: string): string | undefined {
  const expected = 'expected empty (SQLite under data_dir) or postgres://user@host:port/database';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `not a URL; ${expected}`;
  }
  if (schemes[url.protocol] === undefined)
    return `unsupported scheme "${url.protocol.slice(0, 32)}"; ${expected}`;
  if (url.hostname === '') return `names no host; ${expected}`;
  if (url.pathname.length <= 1) return `names no database; ${expected}`;
  return undefined;
}

// checkDatabaseUrl throws CONFIG_INVALID, naming the `database` field, for a
// setting no backend accepts.
export function checkDatabaseUrl(value: string): void {
  const problem = databaseUrlProblem(value);
  if (problem !== undefined)
    throw new PendulumError('CONFIG_INVALID', `field "database": ${problem}`, {
      context: { field: 'database' },
    });
}

// redactDatabaseUrl hides the password in a database URL (user info and a
// `password` query parameter), for messages and logs.
export function redactDatabaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return '(unparseable database URL)';
  }
  if (url.password !== '') url.password = '***';
  if (url.searchParams.has('password')) url.searchParams.set('password', '***');
  return url.toString();
}

// describeLocation names a location for messages and logs, without secrets.
export function describeLocation(location: DatabaseLocation): string {
  return 'url' in location ? redactDatabaseUrl(location.url) : location.path;
}
