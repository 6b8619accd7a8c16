// The server's Watch limits: bounded by default, and refused when a value
// would bound nothing.
import { describe, expect, it } from 'vitest';
import { defaultServerConfig } from '../../src/server/config.js';

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
