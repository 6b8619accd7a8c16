// API tokens (people and CI) and device tokens (short-lived, after
// Authenticate). Only a token's SHA-256 is stored, so a copy of the database
// hands out no working token.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { PendulumError } from '../../errors.js';
import { sha256, toHex } from '../../trust/digest.js';
import type { StoreChanges } from './changes.js';
import { prepared } from './prepared.js';
import { iso, requireSafeInteger } from './rows.js';
import type { ApiRole, Database } from './schema.js';
import { guarded } from './store-error.js';

export interface ApiTokenIdentity {
  readonly id: string;
  readonly name: string;
  readonly role: ApiRole;
}

export type TokenRepository = ReturnType<typeof createTokenRepository>;

// hashToken is the only form of a token the database ever sees.
function hashToken(token: string): string {
  return toHex(sha256(new TextEncoder().encode(token)));
}

// newToken is a prefix (so leaked tokens are recognisable) and 256 random bits.
function newToken(prefix: 'pdl_' | 'pdd_' | 'pde_'): string {
  return prefix + randomBytes(32).toString('base64url');
}

// Every token this server issues: its prefix and 43 base64url characters.
const tokenShapes = {
  api: /^pdl_[A-Za-z0-9_-]{43}$/,
  device: /^pdd_[A-Za-z0-9_-]{43}$/,
} as const;

// isTokenShaped tells whether `token` could be one this server issued, so a
// caller presenting anything else is refused without a database read.
export function isTokenShaped(token: string, kind: keyof typeof tokenShapes): boolean {
  return tokenShapes[kind].test(token);
}

// createTokenRepository binds the token functions to a database.
export function createTokenRepository(db: Kysely<Database>, changes: StoreChanges) {
  // Every device call whose token is not in the server's cache: compiled once.
  const selectDeviceToken = prepared(db, 2, (q, tokenHash, now) =>
    q
      .selectFrom('device_tokens')
      .select(['device_id', 'expires_at'])
      .where('token_hash', '=', tokenHash)
      .where('expires_at', '>', now),
  );
  return guarded('tokens', {
    // createApiToken returns the token once; it cannot be recovered later.
    async createApiToken(input: {
      name: string;
      role: ApiRole;
      now: Date;
    }): Promise<{ id: string; token: string }> {
      const id = randomUUID();
      const token = newToken('pdl_');
      await db
        .insertInto('api_tokens')
        .values({
          id,
          name: input.name,
          role: input.role,
          token_hash: hashToken(token),
          created_at: iso(input.now),
          revoked_at: null,
        })
        .execute();
      return { id, token };
    },

    // findApiToken resolves a presented token that has not been revoked.
    async findApiToken(token: string): Promise<ApiTokenIdentity | undefined> {
      return db
        .selectFrom('api_tokens')
        .select(['id', 'name', 'role'])
        .where('token_hash', '=', hashToken(token))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
    },

    // countApiTokens counts tokens not revoked: zero means nobody can get in.
    async countApiTokens(): Promise<number> {
      const row = await db
        .selectFrom('api_tokens')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('revoked_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },

    // revokeApiToken is idempotent; the first revocation time is kept.
    async revokeApiToken(id: string, now: Date): Promise<void> {
      await db
        .updateTable('api_tokens')
        .set({ revoked_at: iso(now) })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
      const found = await db
        .selectFrom('api_tokens')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst();
      if (found === undefined)
        throw new PendulumError('NOT_FOUND', `API token ${id} not found`, {
          context: { tokenId: id },
        });
    },

    // createDeviceToken issues a token for an authenticated device.
    async createDeviceToken(input: {
      deviceId: string;
      ttlMs: number;
      now: Date;
    }): Promise<{ token: string; expiresAt: string }> {
      requireSafeInteger(input.ttlMs, 'ttlMs', 1);
      const token = newToken('pdd_');
      const expiresAt = iso(new Date(input.now.getTime() + input.ttlMs));
      await db
        .insertInto('device_tokens')
        .values({ token_hash: hashToken(token), device_id: input.deviceId, expires_at: expiresAt })
        .execute();
      return { token, expiresAt };
    },

    // findDeviceToken resolves a device token that has not expired at `now`
    // to its device and when it expires.
    async findDeviceToken(
      token: string,
      now: Date,
    ): Promise<{ deviceId: string; expiresAt: string } | undefined> {
      const [row] = await selectDeviceToken(hashToken(token), iso(now));
      return row === undefined ? undefined : { deviceId: row.device_id, expiresAt: row.expires_at };
    },

    // deleteExpiredDeviceTokens sweeps tokens past their expiry; returns how many.
    async deleteExpiredDeviceTokens(now: Date): Promise<number> {
      const result = await db
        .deleteFrom('device_tokens')
        .where('expires_at', '<=', iso(now))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    // createEnrolmentToken returns the token once; it cannot be recovered later.
    async createEnrolmentToken(input: {
      classId: string;
      uses: number;
      ttlMs: number;
      createdBy: string;
      now: Date;
    }): Promise<{ id: string; token: string; expiresAt: string }> {
      requireSafeInteger(input.uses, 'uses', 1);
      requireSafeInteger(input.ttlMs, 'ttlMs', 1);
      const id = randomUUID();
      const token = newToken('pde_');
      const expiresAt = iso(new Date(input.now.getTime() + input.ttlMs));
      await db
        .insertInto('enrolment_tokens')
        .values({
          id,
          token_hash: hashToken(token),
          class_id: input.classId,
          uses_left: input.uses,
          expires_at: expiresAt,
          created_by: input.createdBy,
          created_at: iso(input.now),
        })
        .execute();
      return { id, token, expiresAt };
    },

    // useEnrolmentToken spends one use of a token for `classId` that has not
    // expired at `now`, and returns its id; undefined when there is none to
    // spend. One conditional update, so concurrent enrolments cannot spend
    // more uses than the token has.
    async useEnrolmentToken(
      token: string,
      classId: string,
      now: Date,
    ): Promise<string | undefined> {
      const hash = hashToken(token);
      const result = await db
        .updateTable('enrolment_tokens')
        .set((eb) => ({ uses_left: eb('uses_left', '-', 1) }))
        .where('token_hash', '=', hash)
        .where('class_id', '=', classId)
        .where('expires_at', '>', iso(now))
        .where('uses_left', '>', 0)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return undefined;
      const row = await db
        .selectFrom('enrolment_tokens')
        .select('id')
        .where('token_hash', '=', hash)
        .executeTakeFirstOrThrow();
      return row.id;
    },

    // deleteDeviceTokens logs a device out everywhere (rejected, decommissioned).
    async deleteDeviceTokens(deviceId: string): Promise<number> {
      changes.deviceAccess++;
      const result = await db
        .deleteFrom('device_tokens')
        .where('device_id', '=', deviceId)
        .executeTakeFirst();
      changes.deviceAccess++;
      return Number(result.numDeletedRows);
    },
  });
}
