// The one place pendulum errors become gRPC statuses and back. The closed code
// travels in the `pendulum-error-code` trailer so clients get it exactly.
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { type ErrorCode, isErrorCode, PendulumError } from '../errors.js';

const codeHeader = 'pendulum-error-code';

const toStatus: Record<ErrorCode, status> = {
  MALFORMED: status.INVALID_ARGUMENT,
  TOO_LARGE: status.INVALID_ARGUMENT,
  UNTRUSTED_KEY: status.FAILED_PRECONDITION,
  THRESHOLD_NOT_MET: status.FAILED_PRECONDITION,
  SIGNATURE_INVALID: status.FAILED_PRECONDITION,
  EXPIRED: status.FAILED_PRECONDITION,
  INCOMPATIBLE: status.FAILED_PRECONDITION,
  ROLLBACK_REJECTED: status.FAILED_PRECONDITION,
  REPLAYED: status.FAILED_PRECONDITION,
  DIGEST_MISMATCH: status.INVALID_ARGUMENT,
  SIZE_MISMATCH: status.INVALID_ARGUMENT,
  TOO_SLOW: status.FAILED_PRECONDITION,
  SLOT_ACTIVE: status.FAILED_PRECONDITION,
  SLOT_WRITE_FAILED: status.INTERNAL,
  BOOTLOADER_FAILED: status.INTERNAL,
  HEALTH_CHECK_FAILED: status.FAILED_PRECONDITION,
  TRIAL_BOOT_FAILED: status.FAILED_PRECONDITION,
  REBOOT_FAILED: status.INTERNAL,
  TOOL_FAILED: status.INTERNAL,
  STATE_CORRUPT: status.DATA_LOSS,
  STORAGE_FAILED: status.RESOURCE_EXHAUSTED,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  CONFIG_INVALID: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAVAILABLE: status.UNAVAILABLE,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  CANCELLED: status.CANCELLED,
  INTERNAL: status.INTERNAL,
};

const fromStatus: Partial<Record<status, ErrorCode>> = {
  [status.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [status.NOT_FOUND]: 'NOT_FOUND',
  [status.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [status.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [status.UNAUTHENTICATED]: 'UNAUTHENTICATED',
  [status.PERMISSION_DENIED]: 'PERMISSION_DENIED',
  [status.UNAVAILABLE]: 'UNAVAILABLE',
  [status.DEADLINE_EXCEEDED]: 'UNAVAILABLE',
  [status.RESOURCE_EXHAUSTED]: 'UNAVAILABLE',
  [status.CANCELLED]: 'CANCELLED',
  [status.DATA_LOSS]: 'STATE_CORRUPT',
};

export interface WireStatus {
  code: status;
  details: string;
  metadata: Metadata;
}

// toWireStatus turns a PendulumError into the status a handler returns.
export function toWireStatus(error: PendulumError): WireStatus {
  const metadata = new Metadata();
  metadata.set(codeHeader, error.code);
  return { code: toStatus[error.code], details: error.message, metadata };
}

// fromServiceError turns a failed call into a PendulumError with our code.
export function fromServiceError(error: ServiceError, method: string): PendulumError {
  const sent = error.metadata?.get(codeHeader)[0];
  const code =
    typeof sent === 'string' && isErrorCode(sent) ? sent : (fromStatus[error.code] ?? 'INTERNAL');
  const details = error.details || status[error.code] || 'call failed';
  return new PendulumError(code, details, {
    context: { method, grpc_status: status[error.code] },
    cause: error,
  });
}

// isRetryable tells whether a failed call is worth retrying later.
export function isRetryable(error: PendulumError): boolean {
  return (
    error.code === 'UNAVAILABLE' || error.code === 'INTERNAL' || error.code === 'STORAGE_FAILED'
  );
}
