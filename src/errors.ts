// The closed set of things that can go wrong in pendulum, and the one error
// class that carries them. Programmer mistakes are `InvariantError`, never a
// PendulumError, and are never reported to a server as an update failure.

export const errorCodes = [
  // Trust: a document is not what a trusted key signed.
  'MALFORMED', // bytes that do not decode, or fields that are missing/out of range
  'TOO_LARGE', // above a configured size limit
  'UNTRUSTED_KEY', // no signature by any key the trust root names
  'THRESHOLD_NOT_MET', // valid signatures by fewer distinct trusted keys than required
  'SIGNATURE_INVALID', // a signature by a trusted key does not verify
  'EXPIRED',
  'INCOMPATIBLE', // wrong vendor or device class, unsupported format or component
  'ROLLBACK_REJECTED', // sequence or version not above what is already there
  'REPLAYED', // a signed statement or report made for another request: a replay
  // Payload and install.
  'DIGEST_MISMATCH',
  'SIZE_MISMATCH', // a stream longer or shorter than its declared size
  'TOO_SLOW', // a payload stream below the minimum rate or past its deadline (slow retrieval)
  'SLOT_ACTIVE', // refusing to write the slot the device is running from
  'SLOT_WRITE_FAILED',
  'BOOTLOADER_FAILED',
  'HEALTH_CHECK_FAILED',
  'TRIAL_BOOT_FAILED', // the bootloader fell back before the new slot confirmed
  'REBOOT_FAILED',
  'TOOL_FAILED', // an external command exited non-zero, timed out or was not found
  'STATE_CORRUPT', // the agent's journal cannot be read
  'STORAGE_FAILED', // a disk or database write failed (full disk, I/O error)
  // Requests.
  'INVALID_ARGUMENT',
  'CONFIG_INVALID',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'FAILED_PRECONDITION',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'UNAVAILABLE', // the server cannot be reached or is overloaded; retry later
  'RATE_LIMITED', // too many attempts (authentication); retry after a while
  'CANCELLED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

// isErrorCode tells whether a string from the wire is one of our codes.
export function isErrorCode(value: string): value is ErrorCode {
  return (errorCodes as readonly string[]).includes(value);
}

// PendulumError is a failure a person can act on: a closed code, a message
// that names what is wrong, and typed context fields.
export class PendulumError extends Error {
  override readonly name = 'PendulumError';
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { context?: ErrorContext; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = options?.context ?? {};
  }

  // from normalises anything thrown into a PendulumError; `fallback` is the
  // code for errors that are not already ours.
  static from(error: unknown, fallback: ErrorCode = 'INTERNAL'): PendulumError {
    if (error instanceof PendulumError) return error;
    if (isAbortError(error))
      return new PendulumError('CANCELLED', 'operation cancelled', { cause: error });
    const message = error instanceof Error ? error.message : String(error);
    return new PendulumError(fallback, message, { cause: error });
  }

  // withPrefix returns the same error with a context prefix on its message
  // ("grub backend: grub-editenv exited 1").
  withPrefix(prefix: string): PendulumError {
    return new PendulumError(this.code, `${prefix}: ${this.message}`, {
      context: this.context,
      cause: this.cause,
    });
  }
}

// isPendulumError is the type guard for PendulumError, optionally of one code.
export function isPendulumError(error: unknown, code?: ErrorCode): error is PendulumError {
  return error instanceof PendulumError && (code === undefined || error.code === code);
}

// InvariantError marks a programmer mistake, never an update failure.
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

// invariant throws an InvariantError when a condition the code relies on is false.
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

function isAbortError(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'AbortError' || (error as { code?: string }).code === 'ABORT_ERR')
  );
}

// errnoCode returns the Node errno code ("ENOSPC") of an error, if any.
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
