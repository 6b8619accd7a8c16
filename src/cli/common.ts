// What every CLI command shares: how to reach a server, how to read files
// with errors that name them, and how failures are printed.
import { readFile } from 'node:fs/promises';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import { Client as GrpcClient } from '@grpc/grpc-js';
import { type Command, Option } from 'commander';
import { InvariantError, PendulumError } from '../errors.js';
import { bearer } from '../rpc/auth.js';
import { createClient } from '../rpc/client.js';
import { clientTransport } from '../rpc/transport.js';
import type { Client } from '../rpc/types.js';

export interface ConnectionOptions {
  readonly server: string;
  readonly token?: string;
  readonly ca?: string;
}

// withConnection adds --server, --token and --ca (also read from the environment).
export function withConnection(command: Command): Command {
  return command
    .addOption(
      new Option('--server <host:port>', 'pendulum server address')
        .env('PENDULUM_SERVER')
        .default('127.0.0.1:7443'),
    )
    .addOption(new Option('--token <token>', 'API token').env('PENDULUM_TOKEN'))
    .addOption(
      new Option('--ca <file>', 'PEM CA bundle; use TLS and check the server against it').env(
        'PENDULUM_CA',
      ),
    );
}

// connect opens a typed client for one service; the caller closes it.
export async function connect<S extends GenServiceMethods>(
  service: GenService<S>,
  options: ConnectionOptions,
): Promise<{ client: Client<S>; close: () => void }> {
  if (options.token === undefined || options.token === '') {
    throw new PendulumError(
      'UNAUTHENTICATED',
      'no API token: pass --token or set PENDULUM_TOKEN (the server printed an admin token on its first start)',
    );
  }
  const transport = await clientTransport(
    options.server,
    options.ca === undefined ? {} : { ca: options.ca },
    '--ca (or PENDULUM_CA)',
  );
  const channel = new GrpcClient(options.server, transport.credentials, {
    ...transport.options,
    'grpc.max_send_message_length': 8 * 1024 * 1024,
  });
  const token = options.token;
  return {
    client: createClient(service, channel, () => bearer(token)),
    close: () => channel.close(),
  };
}

// readText reads a file, naming it when it cannot.
export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new PendulumError(
      'NOT_FOUND',
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      { context: { file: path }, cause: error },
    );
  }
}

// collect gathers a repeatable option's values in order.
export const collect = (value: string, previous: readonly string[] = []): string[] => [
  ...previous,
  value,
];

// parsePositiveInt is a commander argument parser for counts; `name` is the option.
export function positiveInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new PendulumError(
        'INVALID_ARGUMENT',
        `${name} must be a positive integer, got "${value}"`,
      );
    return n;
  };
}

// nonNegativeInt is a commander argument parser for a count that may be 0; `name` is the option.
export function nonNegativeInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n))
      throw new PendulumError(
        'INVALID_ARGUMENT',
        `${name} must be a whole number, 0 or more, got "${value}"`,
      );
    return n;
  };
}

// reportFailure prints an error for a person and returns the exit code.
export function reportFailure(error: unknown): number {
  if (error instanceof InvariantError) {
    process.stderr.write(`pendulum: internal error (a bug): ${error.stack ?? error.message}\n`);
    return 70;
  }
  const failure = PendulumError.from(error);
  process.stderr.write(`pendulum: ${failure.code}: ${failure.message}\n`);
  return 1;
}

// print writes one line to stdout.
export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}
