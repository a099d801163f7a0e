// Audit events by time: the lockout's in-process state is rebuilt at start from the last window's
// events (limits/lockout.ts), which must stay a short read however long the log grows.
import type { Kysely, Migration } from 'kysely';

export function auditTimeMigration(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('audit_time_idx').on('audit_events').column('time').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('audit_time_idx').ifExists().execute();
    },
  };
}
