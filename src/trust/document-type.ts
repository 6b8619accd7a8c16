// Which kind of document an envelope body is, for tools that sign whatever
// file they are given. The type is bound into every signature, so signing a
// body as the wrong kind would leave a signature that never verifies.
import { fromBinary } from '@bufbuild/protobuf';
import { PendulumError } from '../errors.js';
import { ManifestSchema } from '../gen/pendulum/v1/manifest_pb.js';
import type { DocumentType } from './envelope.js';
import { manifestFormatVersion } from './manifest.js';
import { decodeTrustRootBody } from './trust-root.js';

// documentTypeOf decodes `body` as each kind and returns the one it is; a body
// that is neither, or could be both, is refused. `what` names it in errors.
export function documentTypeOf(body: Uint8Array, what: string): DocumentType {
  const root = isTrustRoot(body);
  const manifest = isManifest(body);
  if (root && !manifest) return 'pendulum.v1.TrustRoot';
  if (manifest && !root) return 'pendulum.v1.Manifest';
  throw new PendulumError(
    'MALFORMED',
    `${what} is ${root ? 'both' : 'neither'} a trust root ${root ? 'and' : 'nor'} a manifest`,
    { context: { document: what, field: 'body' } },
  );
}

function isTrustRoot(body: Uint8Array): boolean {
  try {
    decodeTrustRootBody(body, 'body');
    return true;
  } catch {
    return false;
  }
}

// isManifest checks the fields every manifest carries; verifyManifest checks the rest.
function isManifest(body: Uint8Array): boolean {
  try {
    const m = fromBinary(ManifestSchema, body);
    return (
      m.formatVersion === manifestFormatVersion &&
      m.vendorId !== '' &&
      m.classId !== '' &&
      m.sequence > 0n &&
      m.version !== '' &&
      m.expires !== undefined &&
      m.components.length > 0
    );
  } catch {
    return false;
  }
}
