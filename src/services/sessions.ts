// Sessions: sign-in creates one (new sid, new refresh token); refresh rotates its token; reuse of a
// rotated token ends the whole session; logout, logout-all and deletion end sessions at once for
// both refresh and access tokens. A session never outlives SESSION_MAX_DAYS.
import { randomBytes } from 'node:crypto';
import { setTimeout as settle } from 'node:timers/promises';
import type { AccessClaims, AccessTokens } from '../crypto/access-tokens.js';
import { arrivalsSoFar } from '../arrival-order.js';
import { keyedHash, randomToken } from '../crypto/secrets.js';
import { HttpError } from '../errors/http-error.js';
import type { RevocationStore } from '../limits/revocations.js';
import type { Repositories, Session, SessionKind, Storage, User } from '../storage/index.js';
import type { AuditAction, AuditEntry, AuditLog } from './audit.js';
import type { RequestContext } from './context.js';
import { currentScopes, EVERY_SCOPE_OF_ROLE, narrowScopes, scopesForRole, type ScopeGrant } from './scopes.js';

const DAY = 86_400_000;

/**
 * How long a refresh waits before it rotates, so that a concurrent refresh of the same token
 * that is already on its way is read first. Not a poll's worth: a client firing several requests at
 * once opens a connection for each, and measured on these 2-core machines (five at once from Node's
 * fetch) the last one was read 5–20 ms after the first, and up to 300 ms behind it on a loaded machine.
 * Safe for reuse detection however long: a client holds the new pair only once the rotation has
 * answered, so a replay always comes after the rotation. What it costs is a refresh's latency.
 */
const SETTLE_MS = 100;

/** SETTLE_MS of real time, polls of the sockets included (node:timers: a test's fake clock does not hold it). */
async function afterConcurrentArrivals(): Promise<void> {
  await settle(SETTLE_MS);
}

export interface IssuedTokens {
  readonly session: Session;
  readonly user: User;
  readonly accessToken: string;
  readonly claims: AccessClaims;
  readonly refreshToken: string;
  readonly expiresIn: number;
  /** Seconds the refresh token lives: REFRESH_TOKEN_EXPIRE_DAYS, or less near the session's end. */
  readonly refreshExpiresIn: number;
  readonly scope: string;
}

export interface SessionServiceOptions {
  readonly storage: Storage;
  readonly tokens: AccessTokens;
  readonly revocations: RevocationStore;
  readonly audit: AuditLog;
  readonly refreshKey: Buffer;
  readonly refreshTokenDays: number;
  readonly sessionMaxDays: number;
  readonly now: () => number;
}

function invalidRefresh(): HttpError {
  // RFC 6749 §5.2 names this invalid_grant; the contract answers it with 401.
  return new HttpError('INVALID_REFRESH_TOKEN', { extra: { error: 'invalid_grant' }, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
}

/** Rotations whose arrival count is kept, newest last; a racing refresh is at most seconds behind. */
const MAX_REMEMBERED_ROTATIONS = 10_000;

/**
 * Shares a revocation already in the database with every instance. Called last, once everything
 * durable about the change is written: if Redis fails right then (a 503), nothing is left half
 * done, and the store announces it when Redis is back.
 */
export type Announcement = () => Promise<void>;

export interface RefreshOptions {
  /** Cookie refreshes check their CSRF token against the session before anything changes. */
  readonly checkSession?: (session: Session) => void;
  /** The token endpoint's `scope`: the session's scopes or fewer for this access token (RFC 6749 §6). */
  readonly scope?: string;
}

export class SessionService {
  /** Token hash → how many requests had arrived when this process set out to rotate it. */
  private readonly rotations = new Map<string, number>();

  constructor(private readonly o: SessionServiceOptions) {}

  /** A new session for a user who just proved who they are. */
  async start(user: User, kind: SessionKind, scopes: ScopeGrant, ctx: RequestContext): Promise<IssuedTokens> {
    const now = this.o.now();
    const refreshToken = randomToken();
    const scope = scopes === EVERY_SCOPE_OF_ROLE ? scopes : scopes.join(' ');
    const session = await this.o.storage.transaction(async (repos) => {
      const created = await repos.sessions.create({
        id: randomBytes(16).toString('base64url'), userId: user.id, kind, createdAt: now,
        expiresAt: now + this.o.sessionMaxDays * DAY, ip: ctx.ip, userAgent: ctx.userAgent, scope,
      });
      await repos.sessions.insertRefreshToken({
        tokenHash: keyedHash(this.o.refreshKey, refreshToken), sessionId: created.id, createdAt: now,
        expiresAt: this.refreshExpiry(now, created),
      });
      return created;
    });
    // A password change, reset or deactivation that landed while this login was proving the old
    // password has already ended every session it could see — not this one, written after. So the
    // account is read again now that the session exists: if the password proven is no longer the
    // account's (or the account was switched off), the session ends before any token leaves.
    // (Either the change ran before this read and is seen here, or after the session was written
    // and ended it: no order of the two leaves a session of the old password alive.)
    const current = await this.o.storage.users.findById(user.id);
    if (!current || current.passwordHash !== user.passwordHash || !current.isActive) {
      await (await this.endSessions(this.o.storage, [session.id], 'credentials_changed'))();
      throw new HttpError(current?.isActive === false ? 'INACTIVE_USER' : 'INVALID_CREDENTIALS');
    }
    // Role and authorisation version as they are now: a token minted from the login's copy would
    // carry the role a change in between took away.
    return this.issue(current, session, refreshToken, now);
  }

  /**
   * Exchanges a live refresh token for a new pair. A token that was already rotated ends its session
   * (reuse detection) — unless this request arrived before the rotation happened: that is two
   * concurrent refreshes from one client, and the loser is refused without logging the user out.
   */
  async refresh(refreshToken: string, ctx: RequestContext, { checkSession, scope }: RefreshOptions = {}): Promise<IssuedTokens> {
    if (refreshToken.length < 20 || refreshToken.length > 200) throw invalidRefresh();
    const now = this.o.now();
    const tokenHash = keyedHash(this.o.refreshKey, refreshToken);
    const stored = await this.o.storage.sessions.findRefreshToken(tokenHash);
    if (!stored) throw invalidRefresh();
    const session = await this.o.storage.sessions.findById(stored.sessionId);
    if (!session || session.revokedAt !== null || session.expiresAt <= now) throw invalidRefresh();
    // Cookie refreshes check their CSRF token against the session before anything changes.
    checkSession?.(session);
    if (stored.rotatedAt !== null) {
      if (this.arrivedBeforeRotation(tokenHash, stored.rotatedAt, ctx)) throw invalidRefresh();
      const announce = await this.endAndRecord((repos) => this.endSessions(repos, [session.id], 'refresh_reuse'),
        'token.refresh_reuse', ctx, { userId: session.userId, outcome: 'blocked', details: { session_id: session.id } });
      // Ended in the database: the replay is answered as the 401 it is even if Redis cannot carry the
      // news now (the revocation is kept and announced on reconnect; the others read it from the database).
      await announce().catch(() => undefined);
      throw invalidRefresh();
    }
    if (stored.expiresAt <= now) throw invalidRefresh();
    const user = await this.o.storage.users.findById(session.userId);
    if (!user || !user.isActive) throw invalidRefresh();
    const scopes = narrowScopes(currentScopes(session.scope, user.role), scope);

    // Two refreshes a client fired at once (two tabs) reach the server microseconds apart; on SQLite
    // the first would rotate before the second is even read, and the second would look like a
    // replay. Waiting SETTLE_MS lets every request already on its way be read first: a
    // concurrent one then finds the token unrotated and loses the race below (401, the session
    // lives). A token presented after the rotation is still a replay.
    await afterConcurrentArrivals();
    const next = randomToken();
    // Remembered before the rotation commits, not after: a concurrent refresh may read the
    // committed rotation while this one is still on its way back from the transaction (SQLite's
    // driver resolves in microtasks), and must already find how many requests had arrived.
    this.rememberRotation(tokenHash);
    const rotated = await this.o.storage.transaction(async (repos) => {
      // The rotation time is taken as late as possible: a request that arrived before it is concurrent.
      if (!(await repos.sessions.markRotated(tokenHash, this.o.now()))) return false;
      await repos.sessions.insertRefreshToken({
        tokenHash: keyedHash(this.o.refreshKey, next), sessionId: session.id, createdAt: now,
        expiresAt: this.refreshExpiry(now, session),
      });
      await repos.sessions.touch(session.id, now, ctx.ip, ctx.userAgent);
      return true;
    });
    // Lost a race with a concurrent refresh of the same token: refuse, but leave the session alive.
    // (The entry stays: the winner's rotation is the one it describes, give or take this request.)
    if (!rotated) throw invalidRefresh();
    const issued = await this.issue(user, session, next, now, scopes);
    // And again as the answer leaves: until then no client holds the new pair, so a request with
    // the old token that arrived while the rotation committed and its tokens were signed (a
    // concurrent one, late on a busy machine) is concurrent too, not a replay.
    this.rememberRotation(tokenHash);
    return issued;
  }

  /**
   * Whether a request presenting an already-rotated token had arrived before the rotation (a
   * concurrent refresh) rather than after it (a replay). A rotation this process made is judged by
   * arrival order, exact even within one millisecond; one made by another instance, by the clock.
   * No time-based grace after the rotation: a client holds the new pair only once the rotation's
   * response has left, so a token presented after the rotation is a replay, however soon.
   */
  private arrivedBeforeRotation(tokenHash: string, rotatedAt: number, ctx: RequestContext): boolean {
    const arrivalsAtRotation = this.rotations.get(tokenHash);
    if (arrivalsAtRotation !== undefined && ctx.arrival !== undefined) return ctx.arrival <= arrivalsAtRotation;
    return ctx.receivedAt < rotatedAt;
  }

  private rememberRotation(tokenHash: string): void {
    // Bounded: only a refresh racing this one needs the entry, and it is already in flight.
    if (this.rotations.size >= MAX_REMEMBERED_ROTATIONS) this.rotations.delete(this.rotations.keys().next().value!);
    // The latest count wins: every request stamped before any rotation attempt of this token is concurrent.
    this.rotations.set(tokenHash, Math.max(this.rotations.get(tokenHash) ?? 0, arrivalsSoFar()));
  }

  /** Throws (503) before a change that ends sessions, while its revocations could not reach every instance. */
  assertRevocationsReachable(): void {
    this.o.revocations.assertReachable();
  }

  /** Ends the caller's own session (logout). */
  async logout(userId: number, sessionId: string, ctx: RequestContext): Promise<void> {
    this.o.revocations.assertReachable();
    await this.endAudited((repos) => this.endSessions(repos, [sessionId], 'logout'), 'logout', ctx, { userId, outcome: 'success', details: { scope: 'session' } });
  }

  /**
   * Ends a live session known only by its id: a page's sign-out after its access cookie lapsed,
   * whose caller has proven the session's CSRF binding. An ended or unknown session is left be.
   */
  async logoutById(sessionId: string, ctx: RequestContext): Promise<void> {
    const session = await this.o.storage.sessions.findById(sessionId);
    if (!session || session.revokedAt !== null || session.expiresAt <= this.o.now()) return;
    await this.logout(session.userId, session.id, ctx);
  }

  /** Ends every session of the user (logout-all). */
  async logoutAll(userId: number, ctx: RequestContext): Promise<void> {
    this.o.revocations.assertReachable();
    await this.endAudited((repos) => this.endAllSessions(repos, userId, 'logout_all'), 'logout', ctx, { userId, outcome: 'success', details: { scope: 'all' } });
  }

  /** The live session a refresh token belongs to (for logging out with only the refresh cookie). */
  async sessionOfRefreshToken(refreshToken: string): Promise<Session | undefined> {
    const stored = await this.o.storage.sessions.findRefreshToken(keyedHash(this.o.refreshKey, refreshToken));
    const session = stored && (await this.o.storage.sessions.findById(stored.sessionId));
    return session && session.revokedAt === null && session.expiresAt > this.o.now() ? session : undefined;
  }

  async list(userId: number): Promise<Session[]> {
    return this.o.storage.sessions.listLive(userId, this.o.now());
  }

  /** Ends one of the caller's sessions; another user's (or an unknown or ended) session is 404. */
  async remove(userId: number, sessionId: string, ctx: RequestContext): Promise<void> {
    this.o.revocations.assertReachable();
    const session = await this.o.storage.sessions.findById(sessionId);
    if (!session || session.userId !== userId || session.revokedAt !== null || session.expiresAt <= this.o.now()) {
      throw new HttpError('NOT_FOUND', { detail: 'Session not found' });
    }
    await this.endAudited((repos) => this.endSessions(repos, [sessionId], 'deleted'),
      'logout', ctx, { userId, outcome: 'success', details: { scope: 'session', session_id: sessionId } });
  }

  /**
   * Ends every session of a user but `keep` (password change keeps the caller's) in the database,
   * through the `repos` of the change's transaction; the caller announces them once the rest of its
   * change (its audit events) has committed too.
   */
  async endAllSessions(repos: Pick<Repositories, 'sessions'>, userId: number, reason: string, keep?: string): Promise<Announcement> {
    const ended = await repos.sessions.revokeAllForUser(userId, reason, this.o.now(), keep);
    return () => this.o.revocations.revokeSessions(ended);
  }

  private async endSessions(repos: Pick<Repositories, 'sessions'>, sessionIds: readonly string[], reason: string): Promise<Announcement> {
    const now = this.o.now();
    for (const id of sessionIds) await repos.sessions.revoke(id, reason, now);
    return () => this.o.revocations.revokeSessions(sessionIds);
  }

  /**
   * Ends sessions and records the event in one transaction (an ended session is always audited,
   * an audited one always ended), then writes the event's log line; returns the announcement.
   */
  private endAndRecord(end: (repos: Repositories) => Promise<Announcement>, action: AuditAction, ctx: RequestContext, entry: AuditEntry): Promise<Announcement> {
    return this.o.audit.transaction(this.o.storage, async (repos, record) => {
      const ending = await end(repos);
      await record(action, ctx, entry);
      return ending;
    });
  }

  /** endAndRecord, then the revocation announced to every instance (a 503 if Redis cannot carry it). */
  private async endAudited(end: (repos: Repositories) => Promise<Announcement>, action: AuditAction, ctx: RequestContext, entry: AuditEntry): Promise<void> {
    await (await this.endAndRecord(end, action, ctx, entry))();
  }

  /** A refresh token lives REFRESH_TOKEN_EXPIRE_DAYS, never past its session's end. */
  private refreshExpiry(now: number, session: Session): number {
    return Math.min(now + this.o.refreshTokenDays * DAY, session.expiresAt);
  }

  private async issue(
    user: User, session: Session, refreshToken: string, refreshIssuedAt: number, scopes = currentScopes(session.scope, user.role),
  ): Promise<IssuedTokens> {
    const scope = scopes.join(' ');
    const { token, claims } = await this.o.tokens.issue({
      userId: user.id, sessionId: session.id, roles: [user.role], scope, authzVersion: user.authzVersion,
      scopeFollowsRole: session.scope === EVERY_SCOPE_OF_ROLE && scopes.length === scopesForRole(user.role).length,
      // A session never outlives SESSION_MAX_DAYS, and neither does an access token of it.
      notAfter: session.expiresAt,
    });
    const refreshExpiresIn = Math.floor((this.refreshExpiry(refreshIssuedAt, session) - refreshIssuedAt) / 1000);
    return { session, user, accessToken: token, claims, refreshToken, expiresIn: claims.exp - claims.iat, refreshExpiresIn, scope };
  }
}
