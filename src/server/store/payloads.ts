// Payload metadata: which content-addressed blobs the server holds.
import type { Kysely } from 'kysely';
import { PendulumError } from '../../errors.js';
import { isSha256Hex } from '../../trust/digest.js';
import { iso, num, requireSafeInteger } from './rows.js';
import type { Database } from './schema.js';
import { guarded } from './store-error.js';

export interface StoredPayload {
  // Lower-case hex SHA-256 of the bytes.
  readonly id: string;
  readonly size: number;
}

export type PayloadRepository = ReturnType<typeof createPayloadRepository>;

// createPayloadRepository binds the payload functions to a database.
export function createPayloadRepository(db: Kysely<Database>) {
  return guarded('payloads', {
    // get returns the payload's size if it was recorded.
    async get(id: string): Promise<StoredPayload | undefined> {
      const row = await db
        .selectFrom('payloads')
        .select(['id', 'size'])
        .where('id', '=', id)
        .executeTakeFirst();
      return row === undefined ? undefined : { id: row.id, size: num(row.size) };
    },

    // insert records an uploaded payload; uploading the same bytes again is a
    // no-op, and the same digest with another size is a caller bug.
    async insert(input: { id: string; size: number; now: Date }): Promise<{ created: boolean }> {
      if (!isSha256Hex(input.id)) {
        throw new PendulumError('INVALID_ARGUMENT', 'payload id must be 64 lower-case hex digits', {
          context: { field: 'id' },
        });
      }
      requireSafeInteger(input.size, 'size');
      const result = await db
        .insertInto('payloads')
        .values({ id: input.id, size: input.size, created_at: iso(input.now) })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 1) return { created: true };
      const existing = await db
        .selectFrom('payloads')
        .select('size')
        .where('id', '=', input.id)
        .executeTakeFirstOrThrow();
      if (num(existing.size) !== input.size) {
        throw new PendulumError(
          'SIZE_MISMATCH',
          `payload ${input.id} is recorded with ${num(existing.size)} bytes, not ${input.size}`,
          {
            context: { payloadId: input.id },
          },
        );
      }
      return { created: false };
    },
  });
}
