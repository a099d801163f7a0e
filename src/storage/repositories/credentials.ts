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

  /** Removes a token whose mail never left: it must not count toward the per-account limit. */
  async remove(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('password_reset_tokens').where('token_hash', '=', tokenHash).execute();
  }

  async countRecent(userId: number, since: number): Promise<number> {
    const row = await this.db.selectFrom('password_reset_tokens').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId).where('created_at', '>=', since).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

/** A password-reset request waiting for (or under) its mail: see migrations/002-reset-requests.ts. */
export interface ResetRequest {
  readonly id: number;
  readonly userId: number | null;
  readonly requestId: string | null;
  readonly createdAt: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
}

export class ResetRequestsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async record(request: { userId: number | null; requestId: string | null; createdAt: number }): Promise<void> {
    await this.db.insertInto('password_reset_requests').values({
      user_id: request.userId, request_id: request.requestId, created_at: request.createdAt, next_attempt_at: request.createdAt,
    }).execute();
  }

  /** Unfinished requests whose next attempt may start at `now`, oldest first. */
  async due(now: number, limit: number): Promise<ResetRequest[]> {
    const rows = await this.db.selectFrom('password_reset_requests').selectAll()
      .where('done_at', 'is', null).where('next_attempt_at', '<=', now).orderBy('id').limit(limit).execute();
    return rows.map((row) => ({
      id: Number(row.id), userId: row.user_id === null ? null : Number(row.user_id), requestId: row.request_id,
      createdAt: Number(row.created_at), attempts: Number(row.attempts), nextAttemptAt: Number(row.next_attempt_at),
    }));
  }

  /** Takes the request for one attempt until `leaseUntil` (compare-and-set: of two instances, one wins). */
  async claim(request: ResetRequest, leaseUntil: number): Promise<boolean> {
    const result = await this.db.updateTable('password_reset_requests')
      .set({ next_attempt_at: leaseUntil, attempts: request.attempts + 1 })
      .where('id', '=', request.id).where('done_at', 'is', null).where('next_attempt_at', '=', request.nextAttemptAt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async finish(id: number, now: number): Promise<void> {
    await this.db.updateTable('password_reset_requests').set({ done_at: now }).where('id', '=', id).execute();
  }

  /** Every unfinished request becomes due at `now` (leases and pauses dropped): a start on one box. */
  async releaseAll(now: number): Promise<void> {
    await this.db.updateTable('password_reset_requests').set({ next_attempt_at: now })
      .where('done_at', 'is', null).where('next_attempt_at', '>', now).execute();
  }

  /** Forgets finished requests from before `before`; how many. */
  async pruneFinished(before: number): Promise<number> {
    const result = await this.db.deleteFrom('password_reset_requests').where('done_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async retryAt(id: number, nextAttemptAt: number): Promise<void> {
    await this.db.updateTable('password_reset_requests').set({ next_attempt_at: nextAttemptAt }).where('id', '=', id).where('done_at', 'is', null).execute();
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
