// With TLS configured, devices and the CLI reach the server only over TLS and
// only when they trust its certificate.
import { execFile, execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGrpcSource } from '../../src/device/source/grpc.js';
import { defaultServerConfig } from '../../src/server/config.js';
import { type RunningServer, startServer } from '../../src/server/main.js';
import { generateKeyPair } from '../../src/trust/index.js';
import { makeTempDir } from '../support/temp-dir.js';

let dir: { path: string; remove: () => Promise<void> };
let server: RunningServer;
const status = {
  bootedSlot: 'A' as const,
  installedVersion: '1.0.0',
  committedSequence: 1,
  trustRootVersion: 0,
  agentState: 'idle',
  inventory: {},
};

// selfSigned makes a certificate for localhost with openssl (a TLS server name may not be an IP).
function selfSigned(prefix: string): { cert: string; key: string } {
  const cert = `${prefix}.crt`;
  const key = `${prefix}.key`;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=pendulum-test',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

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

const source = (caFile: string | undefined) =>
  createGrpcSource({
    address: address(),
    caFile,
    key: generateKeyPair(),
    classId: 'gw',
    callTimeoutMs: 5000,
    maxMessageBytes: 1 << 22,
    now: () => new Date(),
  });

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
    for (const caFile of [other.cert, undefined]) {
      const device = await source(caFile);
      try {
        await expect(device.checkIn(status, new AbortController().signal)).rejects.toMatchObject({
          code: 'UNAVAILABLE',
        });
      } finally {
        device.close();
      }
    }
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
