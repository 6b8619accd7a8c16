// How a client reaches a server: TLS checked against a CA bundle or one
// pinned certificate, optionally with a client certificate (mutual TLS), or
// plaintext — which only loopback gets, since a bearer token or an offer on
// a network in the clear is anyone's.
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type ChannelCredentials, type ChannelOptions, credentials } from '@grpc/grpc-js';
import { errnoCode, PendulumError } from '../errors.js';

export interface ClientTlsFiles {
  // PEM CA bundle: the server's certificate must chain to it.
  readonly ca?: string;
  // PEM certificate: the server must present exactly this one.
  readonly pinnedCert?: string;
  // The name to check the certificate against, when the address is not it.
  readonly name?: string;
  // PEM certificate and key presented to a server that asks (mutual TLS).
  readonly clientCert?: string;
  readonly clientKey?: string;
}

// addressHost is the host part of "host:port" or "[v6]:port".
export function addressHost(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  const at = address.lastIndexOf(':');
  return at > 0 && address.indexOf(':') === at ? address.slice(0, at) : address;
}

// isLoopbackHost: 127.0.0.0/8, ::1 or localhost.
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new PendulumError(
      'CONFIG_INVALID',
      `cannot read ${what} ${path}: ${errnoCode(error) ?? 'I/O error'}`,
      {
        context: { file: path },
        cause: error,
      },
    );
  }
}

// clientTransport builds the credentials and channel options for `address`;
// `who` names the caller's setting in errors ("server.ca", "--ca").
export async function clientTransport(
  address: string,
  tls: ClientTlsFiles,
  who: string,
): Promise<{ credentials: ChannelCredentials; options: ChannelOptions }> {
  const host = addressHost(address);
  if (tls.ca === undefined && tls.pinnedCert === undefined) {
    if (!isLoopbackHost(host)) {
      throw new PendulumError(
        'CONFIG_INVALID',
        `refusing plaintext to ${host}: only loopback may be reached without TLS; set ${who}`,
        { context: { field: who } },
      );
    }
    return { credentials: credentials.createInsecure(), options: {} };
  }
  if ((tls.clientCert === undefined) !== (tls.clientKey === undefined)) {
    throw new PendulumError(
      'CONFIG_INVALID',
      'a client certificate needs its key, and a key its certificate',
      {
        context: { field: 'client_cert' },
      },
    );
  }
  const clientKey = tls.clientKey === undefined ? null : await readPem(tls.clientKey, 'client key');
  const clientCert =
    tls.clientCert === undefined ? null : await readPem(tls.clientCert, 'client certificate');
  const options: ChannelOptions =
    tls.name === undefined
      ? {}
      : { 'grpc.ssl_target_name_override': tls.name, 'grpc.default_authority': tls.name };
  if (tls.pinnedCert !== undefined) {
    const pem = await readPem(tls.pinnedCert, 'pinned certificate');
    let pinned: string;
    try {
      pinned = fingerprint(new X509Certificate(pem).raw);
    } catch (error) {
      throw new PendulumError('CONFIG_INVALID', `${tls.pinnedCert} is not a PEM certificate`, {
        context: { file: tls.pinnedCert },
        cause: error,
      });
    }
    // The pinned certificate is the only root, and the server must present it
    // itself: the pin replaces the name check, it does not add a CA.
    const checkServerIdentity = (_host: string, cert: { raw: Buffer }) =>
      fingerprint(cert.raw) === pinned
        ? undefined
        : new Error(`the server's certificate is not the pinned one (${tls.pinnedCert})`);
    return {
      credentials: credentials.createSsl(pem, clientKey, clientCert, { checkServerIdentity }),
      options,
    };
  }
  const ca = await readPem(tls.ca as string, 'CA bundle');
  return { credentials: credentials.createSsl(ca, clientKey, clientCert), options };
}

function fingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
