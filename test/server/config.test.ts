// The server's settings: which database backend a value selects (and the
// field named, without the password, for one no backend serves), and the
// Watch limits.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPendulumError } from '../../src/errors.js';
import { databaseLocation, defaultServerConfig } from '../../src/server/config.js';

describe('database setting', () => {
  it('defaults to the embedded SQLite file in the data directory', () => {
    const config = defaultServerConfig({ data_dir: '/srv/pendulum' });
    expect(config.database).toBe('');
    expect(databaseLocation(config)).toEqual({ path: join('/srv/pendulum', 'pendulum.sqlite') });
  });

  it('selects PostgreSQL for a postgres:// or postgresql:// URL', () => {
    for (const url of [
      'postgres://pendulum@127.0.0.1:5432/fleet',
      'postgresql://pendulum:secret@db.example:5432/fleet?sslmode=require',
    ])
      expect(databaseLocation(defaultServerConfig({ database: url }))).toEqual({ url });
  });

  it('refuses what no backend serves as CONFIG_INVALID naming the field, never the password', () => {
    for (const [value, says] of [
      ['mysql://root:hunter2@127.0.0.1/fleet', 'unsupported scheme "mysql:"'],
      ['sqlite:///var/lib/pendulum.db', 'unsupported scheme "sqlite:"'],
      ['postgres://root:hunter2@127.0.0.1:5432', 'names no database'],
      ['postgres:///fleet', 'names no host'],
      ['127.0.0.1:5432/fleet', 'not a URL'],
    ] as const) {
      let error: unknown;
      try {
        defaultServerConfig({ database: value });
      } catch (caught) {
        error = caught;
      }
      expect(isPendulumError(error, 'CONFIG_INVALID')).toBe(true);
      expect(error).toMatchObject({ context: { field: 'database' } });
      expect((error as Error).message).toContain('field "database"');
      expect((error as Error).message).toContain(says);
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});

// The Watch limits: bounded by default, and refused when a value would bound nothing.
describe('server config: Watch', () => {
  it('bounds Watch streams by default: 10 000 per replica, an hour each, a heartbeat every 30 s', () => {
    expect(defaultServerConfig()).toMatchObject({
      max_watch_streams: 10_000,
      watch_max_age: 3_600_000,
      watch_heartbeat: 30_000,
      watch_poll_interval: 1_000,
      watch_wake_rate: 200,
    });
  });

  it.each([
    ['a stream age of zero', { watch_max_age: '0s' }, 'watch_max_age'],
    ['a heartbeat of zero', { watch_heartbeat: 0 }, 'watch_heartbeat'],
    ['a change-log read interval of zero', { watch_poll_interval: '0ms' }, 'watch_poll_interval'],
    ['a wake rate of zero', { watch_wake_rate: 0 }, 'watch_wake_rate'],
    ['a negative stream limit', { max_watch_streams: -1 }, 'max_watch_streams'],
  ])('refuses %s', (_, overrides, field) => {
    expect(() => defaultServerConfig(overrides)).toThrow(field);
  });
});
