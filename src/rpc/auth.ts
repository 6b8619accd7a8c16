// Bearer tokens in gRPC metadata.
import type { Metadata } from '@grpc/grpc-js';

// bearerToken reads `authorization: Bearer <token>`, or undefined.
export function bearerToken(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return match?.[1];
}

// bearer is the metadata that carries a token.
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
