// Signed envelopes as files people can look at: protobuf JSON of `Signed`
// (base64 body and signatures). The body bytes are kept exactly.
import { fromJsonString, toJsonString } from '@bufbuild/protobuf';
import { PendulumError } from '../errors.js';
import { type Signed, SignedSchema } from '../gen/pendulum/v1/manifest_pb.js';

// formatSignedFile renders an envelope as pretty JSON.
export function formatSignedFile(signed: Signed): string {
  return `${toJsonString(SignedSchema, signed, { prettySpaces: 2 })}\n`;
}

// parseSignedFile reads an envelope from JSON; `source` names the file in errors.
export function parseSignedFile(text: string, source: string): Signed {
  try {
    const signed = fromJsonString(SignedSchema, text);
    if (signed.body.length === 0) throw new Error('field "body" is empty');
    return signed;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new PendulumError('MALFORMED', `${source}: not a signed pendulum document: ${detail}`, {
      context: { file: source },
      cause: error,
    });
  }
}
