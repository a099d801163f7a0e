// The TOTP step accepted before the last one: the contract accepts a code for the current or the
// previous step, each step only once, so a code of the previous step that no sign-in used must still
// pass after the current step's code did (and be refused the second time).
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';

export function totpPreviousStepMigration(dialect: Dialect): Migration {
  const { time } = columnTypes(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('users').addColumn('mfa_previous_step', time).execute();
      // What the release before knew is the last step used; the one before it may have been used too
      // (it accepted only newer steps): taken as used, so no code is accepted twice across the upgrade.
      await db.updateTable('users').set({ mfa_previous_step: sql`mfa_last_step - 1` }).where('mfa_last_step', 'is not', null).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('users').dropColumn('mfa_previous_step').execute();
    },
  };
}
