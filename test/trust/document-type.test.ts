// Telling a trust root from a manifest (src/trust/document-type.ts), so a
// signer never signs a body as the wrong kind of document.
import { describe, expect, it } from 'vitest';
import { encodeTrustRoot } from '../../src/trust/authoring.js';
import { documentTypeOf } from '../../src/trust/document-type.js';
import { createWorld, manifestBody, thrown } from './fixtures.js';

describe('documentTypeOf', () => {
  it('tells a trust root body from a manifest body', () => {
    const world = createWorld();
    expect(documentTypeOf(encodeTrustRoot(world.rootSpec), 'root.json')).toBe(
      'pendulum.v1.TrustRoot',
    );
    expect(
      documentTypeOf(
        manifestBody(() => undefined),
        'manifest.json',
      ),
    ).toBe('pendulum.v1.Manifest');
  });

  it('refuses a body that is neither, naming the file', () => {
    const error = thrown(() => documentTypeOf(new TextEncoder().encode('hello'), 'notes.json'));
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain('notes.json');
  });

  it('refuses a root body whose thresholds a device would refuse', () => {
    const world = createWorld();
    const body = encodeTrustRoot({ ...world.rootSpec, rootThreshold: 0 });
    expect(thrown(() => documentTypeOf(body, 'root.json')).code).toBe('MALFORMED');
  });
});
