// PublisherService: payload uploads, signed releases and trust roots. The
// server verifies everything against the trust root; it never signs.
import { fromBinary, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { PendulumError } from '../../errors.js';
import { SignedSchema } from '../../gen/pendulum/v1/manifest_pb.js';
import type {
  PublisherService,
  ReleaseSchema,
  UploadPayloadRequest,
} from '../../gen/pendulum/v1/publisher_pb.js';
import type { ServiceImpl } from '../../rpc/types.js';
import {
  bytesEqual,
  decodeTrustRoot,
  isSha256Hex,
  updateTrustRoot,
  type VerifiedTrustRoot,
  verifyManifest,
  verifyPinnedTrustRoot,
} from '../../trust/index.js';
import type { ApiPrincipal } from '../auth.js';
import type { ServerContext } from '../context.js';
import type { PayloadRef, Store } from '../store/index.js';

type Impl = ServiceImpl<(typeof PublisherService)['method'], ApiPrincipal>;

// createPublisherService builds the PublisherService handlers.
export function createPublisherService(ctx: ServerContext): Impl {
  const { store } = ctx;
  return {
    async uploadPayload(requests, call) {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      const header = first.done ? undefined : headerOf(first.value);
      if (header === undefined)
        throw new PendulumError('INVALID_ARGUMENT', 'an upload must start with a header', {
          context: { field: 'header' },
        });
      const size = Number(header.size);
      if (!isSha256Hex(header.sha256)) {
        throw new PendulumError(
          'INVALID_ARGUMENT',
          'header.sha256 must be 64 lower-case hex digits',
          { context: { field: 'header.sha256' } },
        );
      }
      if (size < 1 || size > ctx.config.max_payload) {
        throw new PendulumError(
          'INVALID_ARGUMENT',
          `header.size must be between 1 and ${ctx.config.max_payload}`,
          { context: { field: 'header.size' } },
        );
      }
      const chunks = (async function* () {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          if (next.value.part.case !== 'chunk') {
            throw new PendulumError('INVALID_ARGUMENT', 'only data chunks may follow the header', {
              context: { field: 'part' },
            });
          }
          yield next.value.part.value;
        }
      })();
      const { created } = await ctx.payloads.put(
        { sha256: header.sha256, size },
        chunks,
        call.signal,
      );
      await store.transaction(async (tx) => {
        await tx.payloads.insert({ id: header.sha256, size, now: ctx.now() });
        if (created)
          await audit(tx, ctx, call.principal, 'payload.upload', header.sha256, { size });
      });
      return { payloadId: header.sha256, size: BigInt(size), created };
    },

    async publishRelease(request, call) {
      if (request.manifest === undefined)
        throw new PendulumError('INVALID_ARGUMENT', 'manifest is missing', {
          context: { field: 'manifest' },
        });
      const root = await currentRoot(ctx);
      const manifest = verifyManifest(request.manifest, root, {
        now: ctx.now(),
        classId: null,
        aboveSequence: null,
        floor: null,
        maxComponentBytes: ctx.config.max_payload,
      });
      const payloads: PayloadRef[] = [];
      for (const component of manifest.components) {
        const stored = await store.payloads.get(component.sha256);
        if (stored === undefined || (await ctx.payloads.stat(component.sha256)) === undefined) {
          throw new PendulumError(
            'FAILED_PRECONDITION',
            `payload for component "${component.name}" (${component.sha256}) is not uploaded`,
            {
              context: { field: 'components', component: component.name },
            },
          );
        }
        if (stored.size !== component.size) {
          throw new PendulumError(
            'SIZE_MISMATCH',
            `component "${component.name}" says ${component.size} bytes; the uploaded payload has ${stored.size}`,
          );
        }
        payloads.push({
          component: component.name,
          payloadId: component.sha256,
          size: component.size,
        });
      }
      const signed = request.manifest;
      const release = await store.transaction(async (tx) => {
        const inserted = await tx.releases.insert({
          id: manifest.id,
          vendorId: manifest.vendorId,
          classId: manifest.classId,
          sequence: manifest.sequence,
          version: manifest.version,
          expiresAt: manifest.expiresAt.toISOString(),
          signed: toBinary(SignedSchema, signed),
          size: manifest.components.reduce((sum, c) => sum + c.size, 0),
          payloads,
          now: ctx.now(),
        });
        await audit(tx, ctx, call.principal, 'release.publish', manifest.id, {
          classId: manifest.classId,
          sequence: manifest.sequence,
          version: manifest.version,
          signers: manifest.signers.join(','),
        });
        return inserted;
      });
      return { release: releaseToWire(release) };
    },

    async listReleases(request) {
      const releases = await store.releases.list(
        request.classId === '' ? {} : { classId: request.classId },
      );
      return { releases: releases.map(releaseToWire) };
    },

    async putTrustRoot(request, call) {
      if (request.trustRoot === undefined)
        throw new PendulumError('INVALID_ARGUMENT', 'trust_root is missing', {
          context: { field: 'trust_root' },
        });
      const offered = request.trustRoot;
      const latest = await store.trustRoots.latest();
      let verified: VerifiedTrustRoot;
      if (latest === undefined) {
        // The first root is trusted because an admin installs it (trust on first use).
        verified = updateTrustRoot(verifyPinnedTrustRoot(offered), [], ctx.now());
      } else {
        const current = decodeTrustRoot(fromStored(latest.signed), 'stored trust root');
        const body = offered.body;
        if (bytesEqual(body, current.signed.body)) return { version: current.version };
        verified = updateTrustRoot(current, [offered], ctx.now());
      }
      // Devices check every check-in reply against the root's timestamp keys:
      // a root without this server's key would cut every device off.
      if (!ctx.timestamp.listedIn(verified)) {
        throw new PendulumError(
          'FAILED_PRECONDITION',
          `trust root v${verified.version} does not list this server's timestamp key ${ctx.timestamp.key.keyId}; devices would refuse every check-in reply. Add it (${ctx.timestamp.publicFile}) with "pendulum trust init --timestamp-key" or "pendulum trust rotate --add-timestamp-key"`,
          { context: { field: 'timestamp_keys', keyId: ctx.timestamp.key.keyId } },
        );
      }
      await store.transaction(async (tx) => {
        await tx.trustRoots.insert({
          version: verified.version,
          vendorId: verified.vendorId,
          signed: toBinary(SignedSchema, offered),
          expiresAt: verified.expiresAt.toISOString(),
          now: ctx.now(),
        });
        await audit(tx, ctx, call.principal, 'trust_root.put', `v${verified.version}`, {
          vendorId: verified.vendorId,
        });
      });
      return { version: verified.version };
    },
  };
}

// currentRoot is the newest stored trust root, which must not have expired.
async function currentRoot(ctx: ServerContext): Promise<VerifiedTrustRoot> {
  const latest = await ctx.store.trustRoots.latest();
  if (latest === undefined) {
    throw new PendulumError(
      'FAILED_PRECONDITION',
      'the server has no trust root yet; install one with "pendulum trust push"',
    );
  }
  return updateTrustRoot(
    decodeTrustRoot(fromStored(latest.signed), 'stored trust root'),
    [],
    ctx.now(),
  );
}

// fromStored decodes envelope bytes the server stored after verifying them.
function fromStored(bytes: Uint8Array) {
  return fromBinary(SignedSchema, bytes);
}

function headerOf(request: UploadPayloadRequest) {
  return request.part.case === 'header' ? request.part.value : undefined;
}

// releaseToWire maps a stored release to its wire form.
function releaseToWire(release: {
  id: string;
  vendorId: string;
  classId: string;
  sequence: number;
  version: string;
  expiresAt: string;
  createdAt: string;
  size: number;
}): MessageInitShape<typeof ReleaseSchema> {
  return {
    id: release.id,
    vendorId: release.vendorId,
    classId: release.classId,
    sequence: BigInt(release.sequence),
    version: release.version,
    expires: timestampFromDate(new Date(release.expiresAt)),
    created: timestampFromDate(new Date(release.createdAt)),
    size: BigInt(release.size),
  };
}

// audit records a change through `store`, the transaction that makes it.
async function audit(
  store: Store,
  ctx: ServerContext,
  who: ApiPrincipal,
  action: string,
  subject: string,
  detail: Record<string, unknown>,
) {
  await store.audit.append({
    actor: `token:${who.name}`,
    action,
    subject,
    detail,
    now: ctx.now(),
  });
}
