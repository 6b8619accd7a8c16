// The server's composition root: what a first start, a restart and a failed
// start leave behind in the data directory.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PendulumError } from '../../src/errors.js';
import { PublisherService } from '../../src/gen/pendulum/v1/publisher_pb.js';
import { bearer } from '../../src/rpc/auth.js';
import { createClient } from '../../src/rpc/client.js';
import { defaultServerConfig } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';
import { generateKeyPair, sha256, toHex } from '../../src/trust/index.js';
import { writeTestTimestampKey } from '../support/fleet.js';
import { freePort } from '../support/free-port.js';
import { makeImage } from '../support/images.js';
import { createTempDatabase, postgresSkipReason } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';
import { rootDocument, signImage } from '../support/vendor.js';

let dir: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  dir = await makeTempDir('server-main');
});
afterAll(async () => {
  await dir.remove();
});

const quiet = { log: pino({ level: 'silent' }) };
const start = async (
  dataDir: string,
  listen = '127.0.0.1:0',
  more: { database?: string; log?: pino.Logger } = {},
) =>
  startServer(
    defaultServerConfig({
      data_dir: join(dir.path, dataDir),
      listen,
      timestamp_key: await writeTestTimestampKey(join(dir.path, `${dataDir}-keys`)),
      database: more.database ?? '',
      database_connect_timeout: '2s',
    }),
    { log: more.log ?? quiet.log },
  );

// recordingLog is a logger that keeps every line it writes.
function recordingLog(): { log: pino.Logger; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), text: () => lines.join('') };
}

// withPublisher runs `use` with a PublisherService client on `server`, then closes the channel.
async function withPublisher<T>(
  server: RunningServer,
  token: string,
  use: (client: ReturnType<typeof publisherClient>) => Promise<T>,
): Promise<T> {
  const channel = new GrpcClient(server.address, credentials.createInsecure());
  try {
    return await use(publisherClient(channel, token));
  } finally {
    channel.close();
  }
}
const publisherClient = (channel: GrpcClient, token: string) =>
  createClient(PublisherService, channel, () => bearer(token));

describe('admin token', () => {
  it('is created on the first start only, and the first one keeps working after a restart', async () => {
    const first = await start('token');
    const token = first.adminToken;
    await first.close();
    expect(token).toMatch(/\S{20,}/);

    const second = await start('token');
    try {
      expect(second.adminToken).toBeUndefined();
      await withPublisher(second, token ?? '', (client) => client.listReleases({}));
    } finally {
      await second.close();
    }
  });

  it('is not used up by a first start that cannot listen', async () => {
    const blocker = await start('blocker');
    try {
      const error = await start('busy', blocker.address).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PendulumError);
      expect(error).toMatchObject({
        code: 'UNAVAILABLE',
        context: { field: 'listen' },
        message: expect.stringContaining(blocker.address),
      });
    } finally {
      await blocker.close();
    }
    const retried = await start('busy');
    try {
      expect(retried.adminToken).toBeDefined();
    } finally {
      await retried.close();
    }
  });
});

describe('restart', () => {
  it('keeps the trust root, releases and payloads in the data directory', async () => {
    const rootKey = generateKeyPair();
    const releaseKey = generateKeyPair();
    const image = makeImage('restart', { bytes: 32 * 1024 });
    const first = await start('persist');
    const token = first.adminToken ?? '';
    await withPublisher(first, token, async (client) => {
      await client.putTrustRoot({
        trustRoot: rootDocument({
          version: 1,
          rootKeys: [rootKey],
          releaseKeys: [releaseKey],
          signers: [rootKey],
        }),
      });
      await client.uploadPayload(
        (async function* () {
          yield {
            part: {
              case: 'header' as const,
              value: { sha256: toHex(sha256(image)), size: BigInt(image.length) },
            },
          };
          yield { part: { case: 'chunk' as const, value: image } };
        })(),
      );
      const manifest = signImage(image, [releaseKey], { sequence: 5, version: '5.0.0' });
      await client.publishRelease({ manifest });
    });
    await first.close();

    const second = await start('persist');
    try {
      expect((await second.context.store.trustRoots.latest())?.version).toBe(1);
      expect(await second.context.payloads.stat(toHex(sha256(image)))).toBe(image.length);
      const { releases } = await withPublisher(second, token, (client) => client.listReleases({}));
      expect(releases.map((r) => [r.version, r.sequence])).toEqual([['5.0.0', 5n]]);
    } finally {
      await second.close();
    }
  });
});

describe('close', () => {
  it('stops answering calls', async () => {
    const server = await start('closing');
    const token = server.adminToken ?? '';
    const channel = new GrpcClient(server.address, credentials.createInsecure());
    try {
      const client = publisherClient(channel, token);
      await client.listReleases({});
      await server.close();
      await expect(client.listReleases({}, { timeoutMs: 2000 })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
      });
    } finally {
      channel.close();
    }
  });
});

describe('listen', () => {
  it('refuses an address without a port, before it uses up the admin token', async () => {
    for (const listen of ['127.0.0.1', '::1', '127.0.0.1:http', '127.0.0.1:70000']) {
      await expect(start('no-port', listen)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        context: { field: 'listen' },
      });
    }
    const server = await start('no-port');
    try {
      expect(server.adminToken).toBeDefined();
    } finally {
      await server.close();
    }
  });

  it('serves an IPv6 loopback address', async () => {
    const server = await start('ipv6', '[::1]:0');
    try {
      expect(server.address).toMatch(/^\[::1\]:\d+$/);
      await withPublisher(server, server.adminToken ?? '', (client) => client.listReleases({}));
    } finally {
      await server.close();
    }
  });
});

describe('database', () => {
  it('does not start when its PostgreSQL cannot be reached, and says why without the password', async () => {
    const port = await freePort();
    const database = `postgres://pendulum:hunter2@127.0.0.1:${port}/fleet`;
    const recorded = recordingLog();
    const error = await start('unreachable-db', '127.0.0.1:0', {
      database,
      log: recorded.log,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PendulumError);
    expect(error).toMatchObject({ code: 'STORAGE_FAILED', context: { field: 'database' } });
    expect((error as Error).message).toContain(`pendulum:***@127.0.0.1:${port}/fleet`);
    expect((error as Error).message).not.toContain('hunter2');
    expect(recorded.text()).not.toContain('hunter2');
  });

  it.skipIf(postgresSkipReason() !== undefined)(
    'serves from PostgreSQL: the first admin token works after a restart, no SQLite file is made, the password is never logged',
    async () => {
      const database = await createTempDatabase();
      const password = new URL(database.url).password;
      const recorded = recordingLog();
      try {
        const first = await start('on-postgres', '127.0.0.1:0', {
          database: database.url,
          log: recorded.log,
        });
        const token = first.adminToken ?? '';
        await first.close();
        expect(token).toMatch(/\S{20,}/);

        const second = await start('on-postgres', '127.0.0.1:0', {
          database: database.url,
          log: recorded.log,
        });
        try {
          expect(second.adminToken).toBeUndefined();
          await withPublisher(second, token, (client) => client.listReleases({}));
        } finally {
          await second.close();
        }
        expect(await readdir(join(dir.path, 'on-postgres'))).not.toContain('pendulum.sqlite');
        expect(recorded.text()).toContain('127.0.0.1');
        expect(password.length).toBeGreaterThan(8);
        expect(recorded.text()).not.toContain(password);
      } finally {
        await database.drop();
      }
    },
  );
});
