// The server's composition root: open the stores, register the services,
// listen. Everything else is in the modules it wires together.
import { mkdir, readFile } from 'node:fs/promises';
import { fromBinary } from '@bufbuild/protobuf';
import { ServerCredentials } from '@grpc/grpc-js';
import { type Logger, pino } from 'pino';
import { errnoCode, PendulumError } from '../errors.js';
import { DeviceService, file_pendulum_v1_device } from '../gen/pendulum/v1/device_pb.js';
import { FleetService, file_pendulum_v1_fleet } from '../gen/pendulum/v1/fleet_pb.js';
import { SignedSchema } from '../gen/pendulum/v1/manifest_pb.js';
import { file_pendulum_v1_publisher, PublisherService } from '../gen/pendulum/v1/publisher_pb.js';
import { createServer } from '../rpc/gate.js';
import { addIntrospection } from '../rpc/introspection.js';
import { addService } from '../rpc/server.js';
import { addressHost, isLoopbackHost } from '../rpc/transport.js';
import { decodeTrustRoot } from '../trust/index.js';
import { apiAuthorizer, deviceAuthorizer } from './auth.js';
import { databaseLocation, dataPaths, type ServerConfig } from './config.js';
import type { ServerContext } from './context.js';
import { type Listener, listen } from './listener.js';
import { createLocalPayloadStore } from './payloads/local.js';
import { type ControlLoop, startControlLoop } from './rollouts/control-loop.js';
import { createDeviceService } from './services/device-service.js';
import { createFleetService } from './services/fleet-service.js';
import { createPublisherService } from './services/publisher-service.js';
import { openDatabase } from './store/database.js';
import { describeLocation } from './store/database-location.js';
import { createStore } from './store/index.js';
import { loadTimestampSigner } from './timestamp-key.js';
import { createChangeFeed } from './watch/change-feed.js';
import { createWatchHub, type WatchHub } from './watch/hub.js';

export interface RunningServer {
  // host:port actually bound (the OS picks the port when the config says 0).
  readonly address: string;
  readonly port: number;
  // Set on the first start only: the admin API token, to be shown once.
  readonly adminToken: string | undefined;
  // The stores, for embedding the server and for tests that play a compromised server.
  readonly context: ServerContext;
  // This replica's rollout controller (tests tick it by hand).
  readonly rollouts: ControlLoop;
  // This replica's Watch streams.
  readonly watch: WatchHub;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly now?: () => Date;
  readonly log?: Logger;
}

// startServer opens the data directory and serves until close().
export async function startServer(
  config: ServerConfig,
  options: StartOptions = {},
): Promise<RunningServer> {
  const now = options.now ?? (() => new Date());
  const log =
    options.log ?? pino({ level: config.log_level }, pino.destination({ fd: 2, sync: true }));
  const listenHost = addressHost(config.listen);
  // Tokens and offers in the clear are anyone's: plaintext stays on this machine.
  if (config.tls === undefined && !isLoopbackHost(listenHost)) {
    throw new PendulumError(
      'CONFIG_INVALID',
      `refusing to serve plaintext on ${config.listen}: only a loopback address may go without TLS; configure [tls] cert and key`,
      { context: { field: 'listen' } },
    );
  }
  const paths = dataPaths(config);
  await mkdir(config.data_dir, { recursive: true }).catch((error: unknown) => {
    throw new PendulumError(
      'CONFIG_INVALID',
      `data directory ${config.data_dir} cannot be created: ${errnoCode(error) ?? 'error'}`,
      {
        context: { field: 'data_dir', file: config.data_dir },
        cause: error,
      },
    );
  });
  const timestamp = await loadTimestampSigner(config.timestamp_key, config.data_dir);
  const payloads = await createLocalPayloadStore(paths.payloads);
  const database = databaseLocation(config);
  const store = createStore(
    await openDatabase({
      ...database,
      postgres: {
        poolSize: config.database_pool_size,
        connectTimeoutMs: config.database_connect_timeout,
        onConnectionError: (error) =>
          log.warn({ err: error }, 'a pooled database connection failed; reconnecting on demand'),
      },
      sqlite: { syncIntervalMs: config.commit_sync_interval, checkpointLog: log },
    }),
  );
  const watch = createWatchHub({
    maxStreams: config.max_watch_streams,
    maxAgeMs: config.watch_max_age,
    heartbeatMs: config.watch_heartbeat,
    wakeRate: config.watch_wake_rate,
    log,
  });
  const changes = createChangeFeed({ store, hub: watch, now, log });
  const ctx: ServerContext = {
    store,
    payloads,
    config,
    timestamp,
    now,
    log,
    watch,
    announce: changes.announce,
  };

  const server = createServer({
    'grpc.max_receive_message_length': config.max_message,
    'grpc.max_send_message_length': Math.max(config.max_message, config.download_chunk + 1024),
    // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: a client that opens more has them refused.
    'grpc.max_concurrent_streams': config.max_streams_per_connection,
  });
  const onInternalError = (error: unknown, path: string) =>
    log.error({ err: error, path }, 'internal error');
  // Replies wait for the commits they may have read (group commit, store/group-commit.ts).
  const beforeReply = () => store.durable();
  addService(server, DeviceService, createDeviceService(ctx), {
    authorize: deviceAuthorizer(store, now, config.cache_ttl),
    onInternalError,
    beforeReply,
  });
  addService(server, PublisherService, createPublisherService(ctx), {
    authorize: apiAuthorizer(store),
    onInternalError,
    beforeReply,
  });
  addService(server, FleetService, createFleetService(ctx), {
    authorize: apiAuthorizer(store),
    onInternalError,
    beforeReply,
  });
  const introspection = addIntrospection(server, [
    file_pendulum_v1_device,
    file_pendulum_v1_publisher,
    file_pendulum_v1_fleet,
  ]);

  let listener: Listener | undefined;
  let adminToken: string | undefined;
  try {
    listener = await listen(server, await serverCredentials(config), {
      address: config.listen,
      maxConnections: config.max_connections,
      log,
    });
    // Only once listening: a first start that fails must not use up the one-time admin token.
    if ((await store.tokens.countApiTokens()) === 0) {
      adminToken = (await store.tokens.createApiToken({ name: 'admin', role: 'admin', now: now() }))
        .token;
    }
  } catch (error) {
    server.forceShutdown();
    await listener?.close(0);
    await store.close();
    throw error;
  }
  const listening = listener;
  introspection.setServing(true);
  const { port } = listening;
  const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
  const address = `${host}:${port}`;
  log.info(
    {
      address,
      dataDir: config.data_dir,
      database: describeLocation(database),
      tls: config.tls !== undefined,
    },
    'pendulum server listening',
  );
  if (config.tls === undefined) {
    log.warn(
      { address, tls: false },
      'PLAINTEXT: no TLS configured; serving loopback only. Fine for development or behind a local TLS-terminating proxy, never for devices on a network',
    );
  }
  log.info(
    { keyId: timestamp.key.keyId, file: timestamp.file, created: timestamp.created },
    `timestamp key ${timestamp.key.keyId}: the trust root must list it (pendulum trust init --timestamp-key ${timestamp.publicFile}, or trust rotate --add-timestamp-key)`,
  );
  const latest = await store.trustRoots.latest();
  if (
    latest !== undefined &&
    !timestamp.listedIn(
      decodeTrustRoot(fromBinary(SignedSchema, latest.signed), 'stored trust root'),
    )
  ) {
    log.error(
      { keyId: timestamp.key.keyId, trustRoot: latest.version },
      `trust root v${latest.version} does not list this server's timestamp key: devices refuse every check-in reply until a root that does is pushed`,
    );
  }
  if (config.admission === 'accept') {
    log.warn(
      { admission: 'accept' },
      'admission = "accept": ANY device that authenticates is admitted. Use it only in development; devices should be preauthorized or bring an enrolment token',
    );
  }

  const rollouts = startControlLoop({
    store,
    now,
    log,
    intervalMs: config.rollout_interval,
    silentAfterMs: config.silent_after_polls * config.poll_interval,
    onChange: changes.announce,
  });
  changes.start(config.watch_poll_interval);

  return {
    address,
    port,
    adminToken,
    context: ctx,
    rollouts,
    watch,
    async close() {
      introspection.setServing(false);
      await rollouts.stop();
      await changes.stop();
      // Watch streams end now, cleanly, rather than hold the shutdown below.
      watch.close();
      const closing = listening.close(2500);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await closing;
      await store.close();
    },
  };
}

// serverCredentials is TLS (mutual when a client CA is set) or plaintext.
async function serverCredentials(config: ServerConfig): Promise<ServerCredentials> {
  const { tls } = config;
  if (tls === undefined) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.client_ca === undefined ? null : await readFile(tls.client_ca),
    [{ private_key: await readFile(tls.key), cert_chain: await readFile(tls.cert) }],
    tls.client_ca !== undefined,
  );
}
