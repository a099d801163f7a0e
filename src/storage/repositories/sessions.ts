// Sessions and their refresh-token families: the only SQL for sessions and refresh_tokens.
import type { Kysely } from 'kysely';
import type { Database, SessionRow } from '../schema.js';

export type SessionKind = 'token' | 'browser';

export interface Session {
  readonly id: string;
  readonly userId: number;
  readonly kind: SessionKind;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly revokedReason: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly scope: string;
}

export interface RefreshToken {
  readonly tokenHash: string;
  readonly sessionId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly rotatedAt: number | null;
}

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: Number(row.user_id),
    kind: row.kind === 'browser' ? 'browser' : 'token',
    createdAt: Number(row.created_at),
    lastUsedAt: Number(row.last_used_at),
    expiresAt: Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    revokedReason: row.revoked_reason,
    ip: row.ip,
    userAgent: row.user_agent,
    scope: row.scope,
  };
}

export class SessionsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(session: Omit<Session, 'revokedAt' | 'revokedReason' | 'lastUsedAt'>): Promise<Session> {
    const row = await this.db.insertInto('sessions').values({
      id: session.id,
      user_id: session.userId,
      kind: session.kind,
      created_at: session.createdAt,
      last_used_at: session.createdAt,
      expires_at: session.expiresAt,
      ip: session.ip,
      user_agent: session.userAgent?.slice(0, 512) ?? null,
      scope: session.scope,
    }).returningAll().executeTakeFirstOrThrow();
    return toSession(row);
  }

  async findById(id: string): Promise<Session | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toSession(row);
  }

  /** Live sessions of a user (not revoked, not past their absolute end), newest first. */
  async listLive(userId: number, now: number): Promise<Session[]> {
    const rows = await this.db.selectFrom('sessions').selectAll()
      .where('user_id', '=', userId).where('revoked_at', 'is', null).where('expires_at', '>', now)
      .orderBy('created_at', 'desc').orderBy('id').execute();
    return rows.map(toSession);
  }

  async touch(id: string, now: number, ip: string | null, userAgent: string | null): Promise<void> {
    await this.db.updateTable('sessions')
      .set({ last_used_at: now, ip, user_agent: userAgent?.slice(0, 512) ?? null })
      .where('id', '=', id).execute();
  }

  /** Revokes one session; returns false when it was already revoked (or does not exist). */
  async revoke(id: string, reason: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason })
      .where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Revokes every live session of a user except `keep`; returns the ids it revoked. */
  async revokeAllForUser(userId: number, reason: string, now: number, keep?: string): Promise<string[]> {
    let query = this.db.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason })
      .where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (keep !== undefined) query = query.where('id', '!=', keep);
    const rows = await query.returning('id').execute();
    return rows.map((r) => r.id);
  }

  /** Sessions revoked since `since`: what a fresh process must deny until their access tokens expire. */
  async revokedSince(since: number): Promise<string[]> {
    const rows = await this.db.selectFrom('sessions').select('id').where('revoked_at', '>=', since).execute();
    return rows.map((r) => r.id);
  }

  async insertRefreshToken(token: Omit<RefreshToken, 'rotatedAt'>): Promise<void> {
    await this.db.insertInto('refresh_tokens').values({
      token_hash: token.tokenHash,
      session_id: token.sessionId,
      created_at: token.createdAt,
      expires_at: token.expiresAt,
    }).execute();
  }

  async findRefreshToken(tokenHash: string): Promise<RefreshToken | undefined> {
    const row = await this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row && {
      tokenHash: row.token_hash,
      sessionId: row.session_id,
      createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at),
      rotatedAt: row.rotated_at === null ? null : Number(row.rotated_at),
    };
  }

  /** Marks a refresh token rotated if it still is live; false means another request got there first. */
  async markRotated(tokenHash: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('refresh_tokens').set({ rotated_at: now })
      .where('token_hash', '=', tokenHash).where('rotated_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Drops refresh tokens that can no longer matter (expired), keeping rotated ones for reuse detection while live. */
  async pruneExpiredRefreshTokens(now: number): Promise<number> {
    const result = await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
