// Single-use secrets tied to a user: password-reset tokens and MFA recovery codes (hashes only).
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface PasswordResetToken {
  readonly tokenHash: string;
  readonly userId: number;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

export class PasswordResetRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(token: Omit<PasswordResetToken, 'usedAt'>): Promise<void> {
    await this.db.insertInto('password_reset_tokens').values({
      token_hash: token.tokenHash, user_id: token.userId, created_at: token.createdAt, expires_at: token.expiresAt,
    }).execute();
  }

  async find(tokenHash: string): Promise<PasswordResetToken | undefined> {
    const row = await this.db.selectFrom('password_reset_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row && {
      tokenHash: row.token_hash, userId: Number(row.user_id), createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at), usedAt: row.used_at === null ? null : Number(row.used_at),
    };
  }

  /** Uses the token once: false if it was already used (or is unknown, or expired at `now`). */
  async consume(tokenHash: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('password_reset_tokens').set({ used_at: now })
      .where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('expires_at', '>', now).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** After a successful reset (or a password change) every other outstanding token dies too. */
  async invalidateForUser(userId: number, now: number): Promise<void> {
    await this.db.updateTable('password_reset_tokens').set({ used_at: now })
      .where('user_id', '=', userId).where('used_at', 'is', null).execute();
  }

  async countRecent(userId: number, since: number): Promise<number> {
    const row = await this.db.selectFrom('password_reset_tokens').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId).where('created_at', '>=', since).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

export class RecoveryCodesRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Replaces all of a user's codes with new ones. */
  async replace(userId: number, codeHashes: readonly string[], now: number): Promise<void> {
    await this.db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    if (codeHashes.length === 0) return;
    await this.db.insertInto('recovery_codes')
      .values(codeHashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now })))
      .execute();
  }

  /** Uses one code once; false when it is unknown or already used. */
  async consume(userId: number, codeHash: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('recovery_codes').set({ used_at: now })
      .where('user_id', '=', userId).where('code_hash', '=', codeHash).where('used_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) >= 1;
  }

  async countUnused(userId: number): Promise<number> {
    const row = await this.db.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
