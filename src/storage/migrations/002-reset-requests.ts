// Password-reset requests as durable jobs: a 202 is answered only once the request is recorded, so
// its mail is sent even if the process dies right after (it resumes at start) or the mail server is
// down for a while (it is retried). Unknown addresses are recorded too (user_id null), so both
// answers cost the same one write.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';

export function resetRequestsMigration(dialect: Dialect): Migration {
  const { time, serial, generatedKey } = columnTypes(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema.createTable('password_reset_requests')
        .addColumn('id', serial, generatedKey)
        // No foreign key: a request for an account deleted meanwhile is simply dropped by the worker.
        .addColumn('user_id', 'bigint')
        .addColumn('request_id', 'varchar(128)')
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        // When the next attempt may start; also the lease of the attempt under way.
        .addColumn('next_attempt_at', time, (c) => c.notNull())
        .addColumn('done_at', time)
        .execute();
      await db.schema.createIndex('password_reset_requests_due_idx').on('password_reset_requests').columns(['done_at', 'next_attempt_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('password_reset_requests').ifExists().execute();
    },
  };
}
