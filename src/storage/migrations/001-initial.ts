// The schema the whole contract needs: users, sessions and their refresh-token families, API keys,
// audit events, reset tokens, MFA recovery codes, signing keys and external identities.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../database.js';
import { columnTypes } from './column-types.js';

export function initialMigration(dialect: Dialect): Migration {
  const { time, serial, generatedKey } = columnTypes(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema.createTable('users')
        .addColumn('id', serial, generatedKey)
        .addColumn('username', 'varchar(50)', (c) => c.notNull())
        .addColumn('email', 'varchar(320)', (c) => c.notNull())
        .addColumn('full_name', 'varchar(200)')
        .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
        .addColumn('role', 'varchar(20)', (c) => c.notNull().defaultTo('user'))
        .addColumn('is_active', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('authz_version', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('mfa_enabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('mfa_secret', 'text')
        .addColumn('mfa_pending_secret', 'text')
        .addColumn('mfa_last_step', time)
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      // Unique without regard to case (contract: usernames and emails).
      await db.schema.createIndex('users_username_lower_unique').unique().on('users').expression(sql`lower(username)`).execute();
      await db.schema.createIndex('users_email_lower_unique').unique().on('users').expression(sql`lower(email)`).execute();
      await db.schema.createIndex('users_role_idx').on('users').column('role').execute();

      await db.schema.createTable('sessions')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('kind', 'varchar(10)', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('last_used_at', time, (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .addColumn('revoked_at', time)
        .addColumn('revoked_reason', 'varchar(40)')
        .addColumn('ip', 'varchar(64)')
        .addColumn('user_agent', 'varchar(512)')
        .addColumn('scope', 'varchar(500)', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema.createIndex('sessions_user_idx').on('sessions').columns(['user_id', 'revoked_at']).execute();
      await db.schema.createIndex('sessions_revoked_idx').on('sessions').column('revoked_at').execute();

      await db.schema.createTable('refresh_tokens')
        .addColumn('token_hash', 'varchar(128)', (c) => c.primaryKey())
        .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .addColumn('rotated_at', time)
        .execute();
      await db.schema.createIndex('refresh_tokens_session_idx').on('refresh_tokens').column('session_id').execute();

      await db.schema.createTable('api_keys')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .addColumn('prefix', 'varchar(16)', (c) => c.notNull().unique())
        .addColumn('secret_hash', 'varchar(128)', (c) => c.notNull())
        .addColumn('scopes', 'varchar(500)', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('expires_at', time)
        .addColumn('last_used_at', time)
        .addColumn('revoked_at', time)
        .execute();
      await db.schema.createIndex('api_keys_user_idx').on('api_keys').column('user_id').execute();

      await db.schema.createTable('audit_events')
        .addColumn('id', serial, generatedKey)
        .addColumn('time', time, (c) => c.notNull())
        .addColumn('action', 'varchar(40)', (c) => c.notNull())
        .addColumn('user_id', 'bigint')
        .addColumn('ip', 'varchar(64)')
        .addColumn('user_agent', 'varchar(512)')
        .addColumn('request_id', 'varchar(128)')
        .addColumn('outcome', 'varchar(20)', (c) => c.notNull())
        .addColumn('details', 'text')
        .execute();
      // Audit rows outlive the users they mention: no foreign key on user_id.
      await db.schema.createIndex('audit_user_idx').on('audit_events').columns(['user_id', 'id']).execute();
      await db.schema.createIndex('audit_action_idx').on('audit_events').columns(['action', 'id']).execute();

      await db.schema.createTable('password_reset_tokens')
        .addColumn('token_hash', 'varchar(128)', (c) => c.primaryKey())
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('expires_at', time, (c) => c.notNull())
        .addColumn('used_at', time)
        .execute();
      await db.schema.createIndex('password_reset_user_idx').on('password_reset_tokens').column('user_id').execute();

      await db.schema.createTable('recovery_codes')
        .addColumn('id', serial, generatedKey)
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('code_hash', 'varchar(128)', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('used_at', time)
        .execute();
      await db.schema.createIndex('recovery_codes_user_idx').on('recovery_codes').columns(['user_id', 'code_hash']).execute();

      await db.schema.createTable('signing_keys')
        .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('algorithm', 'varchar(10)', (c) => c.notNull())
        .addColumn('private_jwk', 'text', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('retired_at', time)
        .execute();

      await db.schema.createTable('external_identities')
        .addColumn('issuer', 'varchar(500)', (c) => c.notNull())
        .addColumn('subject', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', time, (c) => c.notNull())
        .addPrimaryKeyConstraint('external_identities_pk', ['issuer', 'subject'])
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const table of ['external_identities', 'signing_keys', 'recovery_codes', 'password_reset_tokens', 'audit_events', 'api_keys', 'refresh_tokens', 'sessions', 'users']) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}
