// Authoring (src/trust/authoring.ts): what the CLI builds is what devices verify.
import { describe, expect, it } from 'vitest';
import { ComponentKind, encodeManifest, signManifest } from '../../src/trust/authoring.js';
import { verifyManifest } from '../../src/trust/manifest.js';
import { createWorld, devicePolicy, manifestSpec, thrown } from './fixtures.js';

describe('authoring', () => {
  it('refuses to build a manifest whose component digest is not 32 bytes of hex, naming the component', () => {
    for (const sha256 of ['zz'.repeat(32), 'ab'.repeat(31)]) {
      const spec = manifestSpec({
        components: [{ name: 'rootfs', kind: ComponentKind.ROOTFS, size: 1, sha256 }],
      });
      const error = thrown(() => encodeManifest(spec));
      expect(error.code).toBe('MALFORMED');
      expect(error.message).toContain('rootfs');
    }
  });

  it('builds a manifest a device verifies, with upper-case digests normalised', () => {
    const world = createWorld();
    const digest = 'AB'.repeat(32);
    const spec = manifestSpec({
      components: [{ name: 'app', kind: ComponentKind.APP_DIRECTORY, size: 5, sha256: digest }],
    });
    const verified = verifyManifest(
      signManifest(encodeManifest(spec), world.releaseKeys),
      world.root,
      devicePolicy(),
    );
    expect(verified.components[0]).toMatchObject({
      name: 'app',
      kind: ComponentKind.APP_DIRECTORY,
      size: 5,
      sha256: 'ab'.repeat(32),
    });
  });
});
