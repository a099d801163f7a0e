// Users by last change: every instance sharing revocations through Redis reads, every couple of
// seconds, whose authorisation changed lately (limits/redis-revocations.ts), which must stay a short
// read however many users there are.
import type { Kysely, Migration } from 'kysely';

export function authorisationChangesMigration(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('users_updated_idx').on('users').column('updated_at').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('users_updated_idx').ifExists().execute();
    },
  };
}
