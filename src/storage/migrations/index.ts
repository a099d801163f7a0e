// Every migration, by name in the order they run. Names never change once released.
import type { Migration } from 'kysely';
import type { Dialect } from '../database.js';
import { initialMigration } from './001-initial.js';
import { resetRequestsMigration } from './002-reset-requests.js';
import { auditTimeMigration } from './003-audit-time.js';
import { authorisationChangesMigration } from './004-authorisation-changes.js';
import { totpPreviousStepMigration } from './005-totp-previous-step.js';

export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '001-initial': initialMigration(dialect),
    '002-reset-requests': resetRequestsMigration(dialect),
    '003-audit-time': auditTimeMigration(),
    '004-authorisation-changes': authorisationChangesMigration(),
    '005-totp-previous-step': totpPreviousStepMigration(dialect),
  };
}
