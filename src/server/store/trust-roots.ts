// Trust roots, by version: devices walk the chain one version at a time, so
// every version ever accepted is kept.
import type { Kysely } from 'kysely';
import { PendulumError } from '../../errors.js';
import type { StoreChanges } from './changes.js';
import { bytes, iso, num, requireSafeInteger } from './rows.js';
import type { Database } from './schema.js';
import { guarded, isUniqueViolation } from './store-error.js';

export interface StoredTrustRoot {
  readonly version: number;
  readonly vendorId: string;
  // The exact envelope bytes as signed; never re-encoded.
  readonly signed: Uint8Array;
  readonly expiresAt: string;
  readonly createdAt: string;
}

export type TrustRootRepository = ReturnType<typeof createTrustRootRepository>;

const columns = ['version', 'vendor_id', 'signed', 'expires_at', 'created_at'] as const;

function toTrustRoot(row: {
  version: number;
  vendor_id: string;
  signed: Uint8Array;
  expires_at: string;
  created_at: string;
}): StoredTrustRoot {
  return {
    version: num(row.version),
    vendorId: row.vendor_id,
    signed: bytes(row.signed),
    expiresAt: row.expires_at,
    createdAt: row.created_at,
  };
}

// createTrustRootRepository binds the trust-root functions to a database.
export function createTrustRootRepository(db: Kysely<Database>, changes: StoreChanges) {
  return guarded('trustRoots', {
    // latest is the highest version, the one the server verifies releases with.
    async latest(): Promise<StoredTrustRoot | undefined> {
      const row = await db
        .selectFrom('trust_roots')
        .select(columns)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : toTrustRoot(row);
    },

    // after lists the roots a device at `version` still has to walk, in order.
    async after(version: number): Promise<StoredTrustRoot[]> {
      const rows = await db
        .selectFrom('trust_roots')
        .select(columns)
        .where('version', '>', version)
        .orderBy('version', 'asc')
        .execute();
      return rows.map(toTrustRoot);
    },

    // insert stores a verified root; a version is never replaced.
    async insert(input: {
      version: number;
      vendorId: string;
      signed: Uint8Array;
      expiresAt: string;
      now: Date;
    }): Promise<StoredTrustRoot> {
      requireSafeInteger(input.version, 'version', 1);
      const row = {
        version: input.version,
        vendor_id: input.vendorId,
        signed: input.signed,
        expires_at: input.expiresAt,
        created_at: iso(input.now),
      };
      try {
        await db.insertInto('trust_roots').values(row).execute();
        changes.trustRoots++;
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        throw new PendulumError(
          'ALREADY_EXISTS',
          `trust root version ${input.version} is already stored`,
          {
            context: { version: input.version },
            cause: error,
          },
        );
      }
      return toTrustRoot(row);
    },
  });
}
