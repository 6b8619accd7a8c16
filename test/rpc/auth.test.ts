// Bearer tokens in metadata (src/rpc/auth.ts).
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { bearer, bearerToken } from '../../src/rpc/auth.js';

function metadata(entries: Record<string, string>): Metadata {
  const md = new Metadata();
  for (const [key, value] of Object.entries(entries)) md.set(key, value);
  return md;
}

describe('bearer tokens', () => {
  it('reads back the token it wrote', () => {
    expect(bearerToken(metadata(bearer('abc.def-123')))).toBe('abc.def-123');
  });

  it('accepts the scheme in any case', () => {
    expect(bearerToken(metadata({ authorization: 'bearer tok' }))).toBe('tok');
  });

  it.each([
    ['no authorization header', {}],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a bare token', { authorization: 'tok' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['two tokens', { authorization: 'Bearer a b' }],
  ])('finds no token in %s', (_name, entries) => {
    expect(bearerToken(metadata(entries))).toBeUndefined();
  });
});
