// Every server limit and default, in one place. A TOML file and command-line
// flags override these; see README "Server configuration".
import { join } from 'node:path';
import { z } from 'zod';
import { duration, size, timer } from '../config/fields.js';
import { loadTomlFile, validateConfig } from '../config/load.js';
import { type DatabaseLocation, databaseUrlProblem } from './store/database-location.js';

export const serverConfigSchema = z
  .object({
    // Where the database and payloads live.
    data_dir: z.string().min(1).default('./pendulum-data'),
    // The metadata database: empty for the embedded SQLite file under
    // data_dir, or postgres://user@host:port/database for a PostgreSQL server
    // that several replicas share (the password, if any, is best left to
    // PGPASSWORD or ~/.pgpass; it never appears in messages or logs).
    database: z
      .string()
      .default('')
      .superRefine((value, ctx) => {
        const problem = value === '' ? undefined : databaseUrlProblem(value);
        if (problem !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
      }),
    // PostgreSQL only: connections each replica keeps open at most, and how
    // long a query waits to connect before the request fails.
    database_pool_size: z.number().int().min(1).default(10),
    database_connect_timeout: duration.default('10s'),
    // host:port to listen on; port 0 lets the OS choose.
    listen: z.string().min(1).default('127.0.0.1:7443'),
    // PEM files. Without them the server speaks plaintext, which it allows
    // only when listening on loopback (development, or behind a local
    // TLS-terminating proxy). With `client_ca`, every client must present a
    // certificate signed by it (mutual TLS), on top of its token.
    tls: z
      .object({ cert: z.string(), key: z.string(), client_ca: z.string().optional() })
      .strict()
      .optional(),
    // What happens to a device that authenticates for the first time with a
    // key that was not preauthorized and without an enrolment token:
    // "pending" waits for `pendulum devices accept`; "accept" admits any
    // device at all (development only: the server warns at start).
    admission: z.enum(['accept', 'pending']).default('pending'),
    // Lifetime of an enrolment token when its creator gives none.
    enrolment_token_ttl: duration.default('7d'),
    // Authenticate attempts allowed per minute, from one peer address and for
    // one device key; more are refused with RATE_LIMITED before any work.
    auth_rate: z
      .object({
        per_peer: z.number().int().min(1).default(120),
        per_device: z.number().int().min(1).default(12),
      })
      .strict()
      .default({}),
    // Lifetime of a device token.
    device_token_ttl: duration.default('1h'),
    // How far a device's clock may be from the server's when it authenticates.
    auth_clock_skew: duration.default('5m'),
    // The online timestamp key that signs each check-in's freshness statement.
    // Unset: <data_dir>/timestamp.key, made on the first start (its public half
    // is <data_dir>/timestamp.pub). Replicas must share one key file.
    timestamp_key: z.string().min(1).optional(),
    // How long a check-in's freshness statement stays valid. A device whose
    // clock runs ahead of the server's by more than this refuses every reply.
    freshness_ttl: duration.default('1h'),
    // How often devices are told to poll.
    poll_interval: duration.default('5m'),
    // Commits are made durable together: the database journal is synced at
    // most this often, every commit since the last sync waiting for the next
    // one before anyone hears of it. Longer: less CPU and disk time per
    // commit under load, and a longer wait for each.
    commit_sync_interval: duration.default('5ms'),
    // How long this server reuses what it read of device tokens, active
    // rollouts and trust roots before reading them again. Changes made through
    // this server apply at once; through another replica (sharing the
    // database), within this long: a rejected device is refused, a new
    // root is offered (a rollout change, within watch_poll_interval, when
    // the fleet change log tells of it). An offer is always made from a fresh read.
    // 0: read everything on every call.
    cache_ttl: duration.default('5s'),
    // How often each replica's rollout controller advances phases that have
    // soaked and pauses rollouts past their failure threshold.
    rollout_interval: duration.default('10s'),
    // An admitted device that has not checked in for this many poll
    // intervals is listed as silent.
    silent_after_polls: z.number().int().min(1).default(3),
    // Largest payload bytes per Download message: what each download gets
    // while few are open. Larger: fewer messages, faster transfers.
    download_chunk: size.default('1MiB'),
    // Payload bytes all open downloads together may pin in the server (a
    // device that reads slowly pins a few messages): as more downloads open,
    // each message shrinks (down to 64 KiB) to stay near it. 200 slow
    // downloads peaked at about 740 MiB of RSS with fixed 1 MiB messages;
    // with this, under 300 MB (bench/fleet-load).
    download_memory: size.default('32MiB'),
    // Largest payload the server accepts.
    max_payload: size.default('16GiB'),
    // Largest single gRPC message the server reads (upload chunks); a larger
    // one is refused from its length prefix, before it is read.
    max_message: size.default('8MiB'),
    // Connections open at once; more are closed as they arrive. Keep it below
    // the process's open-file limit, which the database and payloads share.
    max_connections: z.number().int().min(1).default(10_000),
    // Calls in flight on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS):
    // a grpc-js client queues the rest, one that ignores the setting has them
    // refused. Raise it behind a proxy that carries many devices on one connection.
    max_streams_per_connection: z
      .number()
      .int()
      .min(1)
      .max(2 ** 31 - 1)
      .default(100),
    // Watch streams (push): open at once on this replica; more are refused
    // with RESOURCE_EXHAUSTED and those devices poll. Each is one HTTP/2
    // stream and a few hundred bytes of memory; it holds no file descriptor
    // beyond its connection's.
    max_watch_streams: z.number().int().min(0).default(10_000),
    // A Watch stream ends (cleanly; the device reconnects) at most this long
    // after it opened, so streams spread over replicas again after a restart.
    watch_max_age: timer.default('1h'),
    // How often a Watch stream carries a heartbeat, so devices notice a dead one.
    watch_heartbeat: timer.default('30s'),
    // How often each replica reads the fleet change log to hear about changes
    // made through other replicas.
    watch_poll_interval: timer.default('1s'),
    // Devices a replica wakes per second: a change that reaches more of its
    // streams spreads their wakes at random over (streams / rate) seconds, so
    // a rollout does not bring the whole fleet's check-ins at once.
    watch_wake_rate: z.number().int().min(1).default(200),
    log_level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .strict();

export type ServerConfig = z.output<typeof serverConfigSchema>;

// defaultServerConfig is the embedded default: no file, nothing to set up.
export function defaultServerConfig(
  overrides: Partial<z.input<typeof serverConfigSchema>> = {},
): ServerConfig {
  return validateConfig(overrides, serverConfigSchema, 'server defaults');
}

// loadServerConfig reads a TOML file, then applies command-line overrides.
export async function loadServerConfig(
  path: string | undefined,
  overrides: Partial<z.input<typeof serverConfigSchema>>,
): Promise<ServerConfig> {
  const fromFile = path === undefined ? {} : await loadTomlFile(path, z.record(z.unknown()));
  return validateConfig({ ...fromFile, ...overrides }, serverConfigSchema, path ?? 'server config');
}

// databaseLocation is where the metadata database is: the `database` URL,
// or the SQLite file in the data directory when it is empty.
export function databaseLocation(config: ServerConfig): DatabaseLocation {
  return config.database === '' ? { path: dataPaths(config).database } : { url: config.database };
}

// Paths inside the data directory.
export function dataPaths(config: ServerConfig): { database: string; payloads: string } {
  return {
    database: join(config.data_dir, 'pendulum.sqlite'),
    payloads: join(config.data_dir, 'payloads'),
  };
}
