// 0002: enrolment tokens, which admit new devices of one class without an
// operator (see ../schema.ts EnrolmentTokensTable).
import type { Kysely, Migration } from 'kysely';
import { dialectTypes } from './dialect-types.js';

export const enrolmentTokens: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const { text, integer } = dialectTypes(db);
    await db.schema
      .createTable('enrolment_tokens')
      .addColumn('id', text, (c) => c.primaryKey())
      .addColumn('token_hash', text, (c) => c.notNull().unique())
      .addColumn('class_id', text, (c) => c.notNull())
      .addColumn('uses_left', integer, (c) => c.notNull())
      .addColumn('expires_at', text, (c) => c.notNull())
      .addColumn('created_by', text, (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      .execute();
  },
};
