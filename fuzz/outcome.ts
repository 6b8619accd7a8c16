// What one fuzz input did to the code under test, and how a property judges it.
import { type ErrorCode, errnoCode, isErrorCode, PendulumError } from '../src/errors.js';

// accepted / refused are the two allowed endings. A crash is anything thrown
// that is not a PendulumError (TypeError, RangeError, InvariantError, a hang);
// a false acceptance is a value returned for something not validly signed (or
// breaking what the decoder promises); a violation is any other broken rule
// (a refusal of something valid, a PendulumError with a code the function
// does not use for this).
export type Verdict = 'accepted' | 'refused' | 'crash' | 'false-acceptance' | 'violation';

export interface Outcome {
  readonly verdict: Verdict;
  // For refusals, the error code (or the decode error's class); otherwise why.
  readonly detail: string;
}

export const accepted = (detail = 'accepted'): Outcome => ({ verdict: 'accepted', detail });
export const falseAcceptance = (detail: string): Outcome => ({
  verdict: 'false-acceptance',
  detail,
});
export const violation = (detail: string): Outcome => ({ verdict: 'violation', detail });

// refusal classifies what a function threw: a PendulumError with one of
// `codes` is a refusal, another closed code a violation, anything else a crash.
export function refusal(error: unknown, codes: readonly ErrorCode[]): Outcome {
  if (error instanceof PendulumError && isErrorCode(error.code)) {
    if (codes.includes(error.code)) return { verdict: 'refused', detail: error.code };
    return violation(`unexpected code ${error.code}: ${error.message}`);
  }
  return { verdict: 'crash', detail: describeThrown(error) };
}

// attempt runs `fn`, turning a return into `onValue` and a throw into a refusal.
export function attempt<T>(
  fn: () => T,
  codes: readonly ErrorCode[],
  onValue: (value: T) => Outcome,
): Outcome {
  let value: T;
  try {
    value = fn();
  } catch (error) {
    return refusal(error, codes);
  }
  return onValue(value);
}

// attemptAsync is attempt for async functions.
export async function attemptAsync<T>(
  fn: () => Promise<T>,
  codes: readonly ErrorCode[] | 'any',
  onValue: (value: T) => Outcome,
): Promise<Outcome> {
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    return refusal(error, codes === 'any' ? anyCode(error) : codes);
  }
  return onValue(value);
}

// Every closed code but INTERNAL, which a handler only uses for what it could not name.
function anyCode(error: unknown): readonly ErrorCode[] {
  return error instanceof PendulumError && error.code !== 'INTERNAL' ? [error.code] : [];
}

// decodeRefusal classifies what protobuf-es threw while decoding bytes (where
// grpc-js answers INTERNAL "Error deserializing request"): its Error, its
// RangeError ("premature EOF") and the TypeError of its strict UTF-8 decoder
// are refusals; anything else is a decoder bug.
export function decodeRefusal(error: unknown): Outcome {
  if (error instanceof Error && (error.constructor === Error || error.constructor === RangeError))
    return { verdict: 'refused', detail: `protobuf ${error.constructor.name}` };
  if (error instanceof TypeError && errnoCode(error) === 'ERR_ENCODING_INVALID_ENCODED_DATA')
    return { verdict: 'refused', detail: 'protobuf invalid UTF-8' };
  return { verdict: 'crash', detail: describeThrown(error) };
}

// describeThrown names a thrown value for a report: class, message, first frame.
export function describeThrown(error: unknown): string {
  if (!(error instanceof Error)) return `non-Error thrown: ${String(error)}`;
  const frame = error.stack?.split('\n')[1]?.trim() ?? '';
  return `${error.name}: ${error.message}${frame === '' ? '' : ` (${frame})`}`;
}

// A judge sees each input's outcome: it returns true to go on, or throws to
// fail the property (fast-check then shrinks the input).
export type Judge = (outcome: Outcome) => boolean;

// strictJudge fails on anything but an acceptance or a refusal.
export const strictJudge: Judge = (outcome) => {
  if (outcome.verdict === 'accepted' || outcome.verdict === 'refused') return true;
  throw new Error(`${outcome.verdict}: ${outcome.detail}`);
};
