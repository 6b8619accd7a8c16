// Signed envelopes as JSON files (src/trust/signed-file.ts): the body bytes
// survive exactly, so signatures still verify after a trip through a file.
import { describe, expect, it } from 'vitest';
import { signManifest } from '../../src/trust/authoring.js';
import { verifyManifest } from '../../src/trust/manifest.js';
import { formatSignedFile, parseSignedFile } from '../../src/trust/signed-file.js';
import { createWorld, devicePolicy, manifestBody, thrown } from './fixtures.js';

const source = 'release-1.2.0.signed.json';

describe('signed files', () => {
  it('keeps the exact body bytes, so the signature still verifies', () => {
    const world = createWorld();
    // A body with a trailing repeated field: not what an encoder would write.
    const body = new Uint8Array([...manifestBody(() => undefined), 0x52, 0x01, 0x78]);
    const parsed = parseSignedFile(formatSignedFile(signManifest(body, world.releaseKeys)), source);
    expect(parsed.body).toEqual(body);
    expect(verifyManifest(parsed, world.root, devicePolicy()).text).toBe('x');
  });

  it.each([
    ['not JSON', 'nope'],
    ['JSON of another shape', '{"body": 5}'],
    ['an envelope without a body', '{"signatures": []}'],
  ])('rejects %s, naming the file', (_name, text) => {
    const error = thrown(() => parseSignedFile(text, source));
    expect(error.code).toBe('MALFORMED');
    expect(error.message).toContain(source);
    expect(error.context.file).toBe(source);
  });
});
