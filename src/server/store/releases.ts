// Releases: signed manifests as published, with the payload behind each
// component. (class, sequence) is unique, so a sequence is never reused.
import type { Kysely } from 'kysely';
import { PendulumError } from '../../errors.js';
import { bytes, inTransaction, iso, num, requireSafeInteger } from './rows.js';
import type { Database } from './schema.js';
import { guarded, isUniqueViolation } from './store-error.js';

export interface StoredRelease {
  // Hex SHA-256 of the manifest body.
  readonly id: string;
  readonly vendorId: string;
  readonly classId: string;
  readonly sequence: number;
  readonly version: string;
  readonly expiresAt: string;
  // The exact envelope bytes as signed; never re-encoded.
  readonly signed: Uint8Array;
  // Sum of the component sizes.
  readonly size: number;
  readonly createdAt: string;
}

export interface PayloadRef {
  readonly component: string;
  readonly payloadId: string;
  readonly size: number;
}

export interface NewRelease extends Omit<StoredRelease, 'createdAt'> {
  readonly payloads: readonly PayloadRef[];
  readonly now: Date;
}

export type ReleaseRepository = ReturnType<typeof createReleaseRepository>;

const columns = [
  'id',
  'vendor_id',
  'class_id',
  'sequence',
  'version',
  'expires_at',
  'signed',
  'size',
  'created_at',
] as const;

type ReleaseRow = {
  id: string;
  vendor_id: string;
  class_id: string;
  sequence: number;
  version: string;
  expires_at: string;
  signed: Uint8Array;
  size: number;
  created_at: string;
};

function toRelease(row: ReleaseRow): StoredRelease {
  return {
    id: row.id,
    vendorId: row.vendor_id,
    classId: row.class_id,
    sequence: num(row.sequence),
    version: row.version,
    expiresAt: row.expires_at,
    signed: bytes(row.signed),
    size: num(row.size),
    createdAt: row.created_at,
  };
}

function sequenceTaken(classId: string, sequence: number, cause?: unknown): PendulumError {
  return new PendulumError(
    'ALREADY_EXISTS',
    `class "${classId}" already has a release with sequence ${sequence}; a new release needs a higher sequence`,
    {
      context: { classId, sequence },
      cause,
    },
  );
}

// checkNewRelease refuses a release whose parts do not add up before touching the database.
function checkNewRelease(input: NewRelease): void {
  requireSafeInteger(input.sequence, 'sequence');
  requireSafeInteger(input.size, 'size');
  const components = new Set(input.payloads.map((ref) => ref.component));
  if (components.size !== input.payloads.length) {
    throw new PendulumError('INVALID_ARGUMENT', `release ${input.id} names a component twice`, {
      context: { field: 'payloads' },
    });
  }
  const total = input.payloads.reduce((sum, ref) => sum + ref.size, 0);
  if (total !== input.size) {
    throw new PendulumError(
      'SIZE_MISMATCH',
      `release ${input.id} says ${input.size} bytes but its components add up to ${total}`,
    );
  }
}

// createReleaseRepository binds the release functions to a database.
export function createReleaseRepository(db: Kysely<Database>) {
  return guarded('releases', {
    // insert publishes a release and its payload references atomically;
    // publishing the same manifest again returns the stored release.
    async insert(input: NewRelease): Promise<StoredRelease> {
      checkNewRelease(input);
      try {
        return await inTransaction(db, async (trx) => {
          const existing = await trx
            .selectFrom('releases')
            .select(columns)
            .where('id', '=', input.id)
            .executeTakeFirst();
          if (existing !== undefined) return toRelease(existing);
          const taken = await trx
            .selectFrom('releases')
            .select('id')
            .where('class_id', '=', input.classId)
            .where('sequence', '=', input.sequence)
            .executeTakeFirst();
          if (taken !== undefined) throw sequenceTaken(input.classId, input.sequence);
          const ids = [...new Set(input.payloads.map((ref) => ref.payloadId))];
          const known =
            ids.length === 0
              ? []
              : await trx.selectFrom('payloads').select('id').where('id', 'in', ids).execute();
          const missing = input.payloads.find(
            (ref) => !known.some((row) => row.id === ref.payloadId),
          );
          if (missing !== undefined) {
            throw new PendulumError(
              'NOT_FOUND',
              `payload ${missing.payloadId} of component "${missing.component}" has not been uploaded`,
              {
                context: { component: missing.component, payloadId: missing.payloadId },
              },
            );
          }
          const row: ReleaseRow = {
            id: input.id,
            vendor_id: input.vendorId,
            class_id: input.classId,
            sequence: input.sequence,
            version: input.version,
            expires_at: input.expiresAt,
            signed: input.signed,
            size: input.size,
            created_at: iso(input.now),
          };
          await trx.insertInto('releases').values(row).execute();
          if (input.payloads.length > 0) {
            const refs = input.payloads.map((ref) => ({
              release_id: input.id,
              component: ref.component,
              payload_id: ref.payloadId,
              size: ref.size,
            }));
            await trx.insertInto('release_payloads').values(refs).execute();
          }
          return toRelease(row);
        });
      } catch (error) {
        // Another writer took the sequence between our check and our insert.
        if (isUniqueViolation(error)) throw sequenceTaken(input.classId, input.sequence, error);
        throw error;
      }
    },

    // get returns one release by id.
    async get(id: string): Promise<StoredRelease | undefined> {
      const row = await db
        .selectFrom('releases')
        .select(columns)
        .where('id', '=', id)
        .executeTakeFirst();
      return row === undefined ? undefined : toRelease(row);
    },

    // list returns releases newest first: highest sequence, then latest published.
    async list(filter: { classId?: string } = {}): Promise<StoredRelease[]> {
      let query = db.selectFrom('releases').select(columns);
      if (filter.classId !== undefined) query = query.where('class_id', '=', filter.classId);
      const rows = await query
        .orderBy('sequence', 'desc')
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute();
      return rows.map(toRelease);
    },

    // payloadRefs lists a release's components and their payloads, by component name.
    async payloadRefs(releaseId: string): Promise<PayloadRef[]> {
      const rows = await db
        .selectFrom('release_payloads')
        .select(['component', 'payload_id', 'size'])
        .where('release_id', '=', releaseId)
        .orderBy('component')
        .execute();
      return rows.map((row) => ({
        component: row.component,
        payloadId: row.payload_id,
        size: num(row.size),
      }));
    },
  });
}
