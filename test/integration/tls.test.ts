// With TLS configured, devices and the CLI reach the server only over TLS and
// only when they trust its certificate.
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGrpcSource } from '../../src/device/source/grpc.js';
import { defaultServerConfig } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';
import { generateKeyPair } from '../../src/trust/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { selfSigned } from '../support/tls.js';

let dir: { path: string; remove: () => Promise<void> };
let server: RunningServer;
const status = {
  bootedSlot: 'A' as const,
  installedVersion: '1.0.0',
  committedSequence: 1,
  trustRootVersion: 0,
  agentState: 'idle',
  inventory: {},
  nonce: new Uint8Array(16).fill(7),
};

beforeAll(async () => {
  dir = await makeTempDir('tls');
  const tls = selfSigned(join(dir.path, 'server'));
  server = await startServer(
    defaultServerConfig({
      data_dir: join(dir.path, 'data'),
      listen: '127.0.0.1:0',
      tls,
      admission: 'accept',
    }),
    { log: pino({ level: 'silent' }) },
  );
});
afterAll(async () => {
  await server.close();
  await dir.remove();
});

// The name the certificate carries (a TLS server name may not be an IP); it resolves to loopback.
const address = () => `localhost:${server.port}`;

const source = (
  caFile: string | undefined,
  tls: Parameters<typeof createGrpcSource>[0]['tls'] = {},
  at = address(),
) =>
  createGrpcSource({
    address: at,
    caFile,
    tls,
    key: generateKeyPair(),
    classId: 'gw',
    callTimeoutMs: 5000,
    maxMessageBytes: 1 << 22,
    now: () => new Date(),
  });

// checksIn: the device gets through to CheckIn (no offer for it).
async function checksIn(device: Awaited<ReturnType<typeof source>>): Promise<void> {
  try {
    const result = await device.checkIn(status, new AbortController().signal);
    expect(result.offer).toBeUndefined();
  } finally {
    device.close();
  }
}

async function isRefused(device: Awaited<ReturnType<typeof source>>): Promise<void> {
  try {
    await expect(device.checkIn(status, new AbortController().signal)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  } finally {
    device.close();
  }
}

describe('TLS', () => {
  it('serves a device that trusts the server certificate', async () => {
    const device = await source(join(dir.path, 'server.crt'));
    try {
      const result = await device.checkIn(status, new AbortController().signal);
      expect(result.offer).toBeUndefined();
    } finally {
      device.close();
    }
  });

  it('refuses a device that trusts another certificate, and one speaking plaintext', async () => {
    const other = selfSigned(join(dir.path, 'other'));
    for (const caFile of [other.cert, undefined]) await isRefused(await source(caFile));
  });

  it('serves a device that pins the server certificate, by any name', async () => {
    const pinned = { pinnedCert: join(dir.path, 'server.crt') };
    await checksIn(await source(undefined, pinned));
    // The pin replaces the name check: 127.0.0.1 is not in the certificate.
    await checksIn(await source(undefined, pinned, `127.0.0.1:${server.port}`));
  });

  it('refuses a device whose pinned certificate is another one with the same name', async () => {
    const impostor = selfSigned(join(dir.path, 'impostor'));
    await isRefused(await source(undefined, { pinnedCert: impostor.cert }));
  });

  it('checks the certificate against tls_name when the address is not the name', async () => {
    const ca = join(dir.path, 'server.crt');
    await checksIn(await source(ca, { name: 'localhost' }, `127.0.0.1:${server.port}`));
    await isRefused(await source(ca, { name: 'elsewhere.example' }, `127.0.0.1:${server.port}`));
  });

  it('refuses plaintext to anything but loopback, before connecting', async () => {
    await expect(source(undefined, {}, '192.0.2.10:7443')).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('refusing plaintext to 192.0.2.10'),
    });
  });

  it('lets the CLI in with --ca', async () => {
    // Asynchronous: the server runs in this process and must keep answering.
    const run = (ca: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
        const cli = [
          resolve('dist/cli/main.js'),
          'release',
          'list',
          '--server',
          address(),
          '--token',
          server.adminToken ?? '',
          ...ca,
        ];
        execFile(process.execPath, cli, (error, stdout, stderr) =>
          done({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }),
        );
      });
    const trusted = await run(['--ca', join(dir.path, 'server.crt')]);
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(trusted.stdout).toContain('no releases');
    const plaintext = await run([]);
    expect(plaintext.code).toBe(1);
    expect(plaintext.stderr).toContain('UNAVAILABLE');
  });
});

describe('mutual TLS', () => {
  it('serves only devices that present a certificate signed by the client CA', async () => {
    const clientCa = selfSigned(join(dir.path, 'client-ca'), 'DNS:pendulum-devices');
    const mutual = await startServer(
      defaultServerConfig({
        data_dir: join(dir.path, 'mutual'),
        listen: '127.0.0.1:0',
        tls: { ...selfSigned(join(dir.path, 'mutual-server')), client_ca: clientCa.cert },
        admission: 'accept',
      }),
      { log: pino({ level: 'silent' }) },
    );
    try {
      const at = `localhost:${mutual.port}`;
      const ca = join(dir.path, 'mutual-server.crt');
      // A self-signed client certificate is its own CA here.
      await checksIn(await source(ca, { clientCert: clientCa.cert, clientKey: clientCa.key }, at));
      await isRefused(await source(ca, {}, at));
      const stranger = selfSigned(join(dir.path, 'stranger'), 'DNS:pendulum-devices');
      await isRefused(await source(ca, { clientCert: stranger.cert, clientKey: stranger.key }, at));
    } finally {
      await mutual.close();
    }
  });
});

describe('plaintext', () => {
  it('is refused on anything but a loopback address', async () => {
    await expect(
      startServer(defaultServerConfig({ data_dir: join(dir.path, 'open'), listen: '0.0.0.0:0' }), {
        log: pino({ level: 'silent' }),
      }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('refusing to serve plaintext on 0.0.0.0:0'),
    });
  });

  it('is served on loopback with a loud warning', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const local = await startServer(
      defaultServerConfig({ data_dir: join(dir.path, 'local'), listen: '127.0.0.1:0' }),
      { log },
    );
    await local.close();
    expect(lines.join('')).toContain('PLAINTEXT: no TLS configured');
  });
});
