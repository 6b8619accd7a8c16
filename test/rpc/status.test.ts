// Error ↔ status mapping (src/rpc/status.ts): the closed code survives the
// wire, and foreign statuses land on a sensible code.
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, errorCodes, PendulumError } from '../../src/errors.js';
import { fromServiceError, isRetryable, toWireStatus } from '../../src/rpc/status.js';

// received is what a grpc-js client sees for a status the server sent.
function received(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata,
  });
}

describe('status mapping', () => {
  it.each(errorCodes)('carries %s across the wire with its message', (code) => {
    const wire = toWireStatus(new PendulumError(code, `something ${code}`));
    const back = fromServiceError(
      received(wire.code, wire.details, wire.metadata),
      '/pendulum.v1.X/Y',
    );
    expect(back.code).toBe(code);
    expect(back.message).toBe(`something ${code}`);
    expect(back.context.method).toBe('/pendulum.v1.X/Y');
  });

  it.each<[ErrorCode, status]>([
    ['UNAUTHENTICATED', status.UNAUTHENTICATED],
    ['PERMISSION_DENIED', status.PERMISSION_DENIED],
    ['NOT_FOUND', status.NOT_FOUND],
    ['SIGNATURE_INVALID', status.FAILED_PRECONDITION],
    ['MALFORMED', status.INVALID_ARGUMENT],
    ['UNAVAILABLE', status.UNAVAILABLE],
    ['INTERNAL', status.INTERNAL],
  ])('gives generic gRPC clients a matching status for %s', (code, expected) => {
    expect(toWireStatus(new PendulumError(code, 'x')).code).toBe(expected);
  });

  it.each<[status, ErrorCode]>([
    [status.UNAUTHENTICATED, 'UNAUTHENTICATED'],
    [status.UNAVAILABLE, 'UNAVAILABLE'],
    [status.DEADLINE_EXCEEDED, 'UNAVAILABLE'],
    [status.CANCELLED, 'CANCELLED'],
    [status.NOT_FOUND, 'NOT_FOUND'],
    [status.UNIMPLEMENTED, 'INTERNAL'],
    [status.UNKNOWN, 'INTERNAL'],
  ])('maps status %i from a server that sends no pendulum code', (code, expected) => {
    expect(fromServiceError(received(code, 'from a proxy'), '/m').code).toBe(expected);
  });

  it('ignores a pendulum-error-code trailer that is not one of ours', () => {
    const metadata = new Metadata();
    metadata.set('pendulum-error-code', 'TOTALLY_FINE');
    expect(fromServiceError(received(status.NOT_FOUND, 'gone', metadata), '/m').code).toBe(
      'NOT_FOUND',
    );
  });

  it('keeps a message when the server sent none', () => {
    expect(fromServiceError(received(status.UNAVAILABLE, ''), '/m').message).not.toBe('');
  });

  it('retries only what may succeed later', () => {
    expect(isRetryable(new PendulumError('UNAVAILABLE', 'x'))).toBe(true);
    expect(isRetryable(new PendulumError('SIGNATURE_INVALID', 'x'))).toBe(false);
    expect(isRetryable(new PendulumError('UNAUTHENTICATED', 'x'))).toBe(false);
  });
});
