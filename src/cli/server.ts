// pendulum server and pendulum token: run the server; make API tokens on its host.
import { access } from 'node:fs/promises';
import type { Command } from 'commander';
import { Option } from 'commander';
import { PendulumError } from '../errors.js';
import { databaseLocation, loadServerConfig } from '../server/config.js';
import { describeLocation } from '../server/store/database-location.js';
import { print } from './common.js';

// registerServer adds `server` and `token create`.
export function registerServer(program: Command): void {
  program
    .command('server')
    .description(
      'run the pendulum server (SQLite and payloads under one data directory; nothing else to set up)',
    )
    .option('--config <file>', 'server.toml')
    .option('--data-dir <dir>', 'data directory (default ./pendulum-data)')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:7443)')
    .option(
      '--database <url>',
      'postgres://user@host:port/database for a PostgreSQL server replicas share (default: SQLite in the data directory)',
    )
    .option(
      '--timestamp-key <file.key>',
      'the online key that signs check-in freshness (default: <data-dir>/timestamp.key, made on the first start)',
    )
    .addOption(
      new Option('--admission <policy>', 'new devices: accept, or hold pending').choices([
        'accept',
        'pending',
      ]),
    )
    .action(
      async (options: {
        config?: string;
        dataDir?: string;
        listen?: string;
        database?: string;
        timestampKey?: string;
        admission?: 'accept' | 'pending';
      }) => {
        const config = await loadServerConfig(options.config, {
          ...(options.dataDir === undefined ? {} : { data_dir: options.dataDir }),
          ...(options.listen === undefined ? {} : { listen: options.listen }),
          ...(options.database === undefined ? {} : { database: options.database }),
          ...(options.admission === undefined ? {} : { admission: options.admission }),
          ...(options.timestampKey === undefined ? {} : { timestamp_key: options.timestampKey }),
        });
        // Loaded here so other commands start without gRPC server and SQLite code.
        const { startServer } = await import('../server/main.js');
        const server = await startServer(config);
        if (server.adminToken !== undefined) {
          print(`admin token (shown once, keep it safe): ${server.adminToken}`);
          print(`  export PENDULUM_TOKEN=${server.adminToken}`);
        }
        const { timestamp } = server.context;
        print(
          timestamp.created
            ? `made timestamp key ${timestamp.key.keyId}; list it in the trust root: pendulum trust init --timestamp-key ${timestamp.publicFile}`
            : `timestamp key ${timestamp.key.keyId} (${timestamp.file})`,
        );
        const database = describeLocation(databaseLocation(config));
        print(
          `pendulum server listening on ${server.address} (data in ${config.data_dir}, database ${database})`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await server.close();
      },
    );

  program
    .command('token')
    .description('API tokens (run on the server host)')
    .command('create')
    .description("create an API token in the server's database and print it once")
    .requiredOption('--name <name>', 'who or what uses it, e.g. ci')
    .addOption(
      new Option('--role <role>', 'what it may do')
        .choices(['viewer', 'publisher', 'admin'])
        .default('publisher'),
    )
    .option('--data-dir <dir>', "the server's data directory", './pendulum-data')
    .option('--database <url>', "the server's PostgreSQL URL, if it uses one")
    .action(
      async (options: {
        name: string;
        role: 'viewer' | 'publisher' | 'admin';
        dataDir: string;
        database?: string;
      }) => {
        const config = await loadServerConfig(undefined, {
          data_dir: options.dataDir,
          ...(options.database === undefined ? {} : { database: options.database }),
        });
        const location = databaseLocation(config);
        // A token in a database no server reads works nowhere, and would stop
        // a server later started there from making its admin token.
        if ('path' in location && !(await exists(location.path))) {
          throw new PendulumError(
            'NOT_FOUND',
            `no pendulum database at ${location.path}; pass the server's --data-dir or --database (start the server once first)`,
            { context: { field: '--data-dir', file: location.path } },
          );
        }
        const { openDatabase } = await import('../server/store/database.js');
        const { createStore } = await import('../server/store/index.js');
        const store = createStore(await openDatabase(location));
        try {
          const token = await store.transaction(async (tx) => {
            const created = await tx.tokens.createApiToken({
              name: options.name,
              role: options.role,
              now: new Date(),
            });
            await tx.audit.append({
              actor: 'local:cli',
              action: 'token.create',
              subject: options.name,
              detail: { role: options.role },
              now: new Date(),
            });
            return created.token;
          });
          print(token);
        } catch (error) {
          throw PendulumError.from(error, 'STORAGE_FAILED');
        } finally {
          await store.close();
        }
      },
    );
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
