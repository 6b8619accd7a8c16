// The server's composition root: open the stores, register the services,
// listen. Everything else is in the modules it wires together.
import { mkdir, readFile } from 'node:fs/promises';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { type Logger, pino } from 'pino';
import { errnoCode, PendulumError } from '../errors.js';
import { DeviceService, file_pendulum_v1_device } from '../gen/pendulum/v1/device_pb.js';
import { FleetService, file_pendulum_v1_fleet } from '../gen/pendulum/v1/fleet_pb.js';
import { file_pendulum_v1_publisher, PublisherService } from '../gen/pendulum/v1/publisher_pb.js';
import { addIntrospection } from '../rpc/introspection.js';
import { addService } from '../rpc/server.js';
import { apiAuthorizer, deviceAuthorizer } from './auth.js';
import { dataPaths, type ServerConfig } from './config.js';
import type { ServerContext } from './context.js';
import { createLocalPayloadStore } from './payloads/local.js';
import { createDeviceService } from './services/device-service.js';
import { createFleetService } from './services/fleet-service.js';
import { createPublisherService } from './services/publisher-service.js';
import { openDatabase } from './store/database.js';
import { createStore } from './store/index.js';

export interface RunningServer {
  // host:port actually bound (the OS picks the port when the config says 0).
  readonly address: string;
  readonly port: number;
  // Set on the first start only: the admin API token, to be shown once.
  readonly adminToken: string | undefined;
  // The stores, for embedding the server and for tests that play a compromised server.
  readonly context: ServerContext;
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
  const payloads = await createLocalPayloadStore(paths.payloads);
  const store = createStore(await openDatabase({ path: paths.database }));
  const ctx: ServerContext = {
    store,
    payloads,
    config,
    now,
    log,
  };

  const server = new Server({
    'grpc.max_receive_message_length': config.max_message,
    'grpc.max_send_message_length': Math.max(config.max_message, config.download_chunk + 1024),
  });
  const onInternalError = (error: unknown, path: string) =>
    log.error({ err: error, path }, 'internal error');
  addService(server, DeviceService, createDeviceService(ctx), {
    authorize: deviceAuthorizer(store, now),
    onInternalError,
  });
  addService(server, PublisherService, createPublisherService(ctx), {
    authorize: apiAuthorizer(store),
    onInternalError,
  });
  addService(server, FleetService, createFleetService(ctx), {
    authorize: apiAuthorizer(store),
    onInternalError,
  });
  const introspection = addIntrospection(server, [
    file_pendulum_v1_device,
    file_pendulum_v1_publisher,
    file_pendulum_v1_fleet,
  ]);

  let port: number;
  let adminToken: string | undefined;
  try {
    port = await bind(server, config);
    // Only once listening: a first start that fails must not use up the one-time admin token.
    if ((await store.tokens.countApiTokens()) === 0) {
      adminToken = (await store.tokens.createApiToken({ name: 'admin', role: 'admin', now: now() }))
        .token;
    }
  } catch (error) {
    server.forceShutdown();
    await store.close();
    throw error;
  }
  introspection.setServing(true);
  const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
  const address = `${host}:${port}`;
  log.info(
    { address, dataDir: config.data_dir, tls: config.tls !== undefined },
    'pendulum server listening',
  );
  if (config.admission === 'accept') {
    log.warn(
      { admission: 'accept' },
      'admission = "accept": ANY device that authenticates is admitted. Use it only in development; devices should be preauthorized or bring an enrolment token',
    );
  }

  return {
    address,
    port,
    adminToken,
    context: ctx,
    async close() {
      introspection.setServing(false);
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
      await store.close();
    },
  };
}

async function bind(server: Server, config: ServerConfig): Promise<number> {
  const credentials =
    config.tls === undefined
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(
          null,
          [
            {
              private_key: await readFile(config.tls.key),
              cert_chain: await readFile(config.tls.cert),
            },
          ],
          false,
        );
  return new Promise((resolve, reject) => {
    server.bindAsync(config.listen, credentials, (error, port) => {
      if (error) {
        reject(
          new PendulumError('UNAVAILABLE', `cannot listen on ${config.listen}: ${error.message}`, {
            context: { field: 'listen' },
            cause: error,
          }),
        );
      } else resolve(port);
    });
  });
}
