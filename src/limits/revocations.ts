// Access-token revocation at request speed: checked on every authenticated request, in O(1),
// without touching the database. The database stays the source of truth (sessions.revoked_at,
// users.authz_version, role and is_active); this store mirrors what matters for one access-token
// lifetime, because after that every token it could refuse has expired anyway.

/** A user's authorisation after a role or activity change: tokens of an older `ver` follow it. */
export interface Authorisation {
  readonly version: number;
  readonly role: string;
  readonly active: boolean;
}

/**
 * What a token is worth now. `as-issued`: its claims stand. `revoked`: refused. `re-roled`: issued
 * before its user's role changed; it stands with the role the user holds now (CONTRACT: "a role
 * change, like deactivation, takes effect at once on tokens already issued").
 */
export type Standing =
  | { readonly kind: 'as-issued' }
  | { readonly kind: 'revoked' }
  | { readonly kind: 're-roled'; readonly role: string };

export const AS_ISSUED: Standing = Object.freeze({ kind: 'as-issued' });
export const REVOKED: Standing = Object.freeze({ kind: 'revoked' });

/** The standing of tokens older than `authz` (an inactive user's are refused). */
export function standingUnder(authz: Authorisation): Standing {
  return authz.active ? Object.freeze({ kind: 're-roled', role: authz.role }) : REVOKED;
}

export interface RevocationStore {
  /**
   * Throws (503) when a revocation made now could not reach every instance: checked before anything
   * changes, so a logout or deactivation during an outage is refused whole rather than half done.
   */
  assertReachable(): void;
  /** Access tokens of these sessions are refused from now on. */
  revokeSessions(sessionIds: readonly string[]): Promise<void>;
  /** Access tokens of this user carrying an older `ver` follow `authz` from now on. */
  recordAuthorisation(userId: number, authz: Authorisation): Promise<void>;
  /** How a token with these claims stands. */
  standing(sessionId: string, userId: number, version: number): Standing | Promise<Standing>;
  close(): Promise<void>;
}

/** A user whose authorisation changed, as the database holds it now. */
export interface ChangedAuthorisation extends Authorisation {
  readonly userId: number;
}

/** What a fresh process (or a reconnecting one) reloads from the database. */
export interface RevocationSource {
  revokedSessionsSince(since: number): Promise<readonly string[]>;
  authorisationsChangedSince(since: number): Promise<readonly ChangedAuthorisation[]>;
}

export interface MemoryRevocationOptions {
  /** How long an entry must be kept: the access-token lifetime. */
  readonly ttlMs: number;
  readonly now: () => number;
}

/** In-process store for a single instance. Entries expire after one access-token lifetime. */
export class MemoryRevocationStore implements RevocationStore {
  private readonly sessions = new Map<string, number>();
  private readonly versions = new Map<number, { version: number; standing: Standing; until: number }>();
  private lastSweep = 0;

  constructor(private readonly options: MemoryRevocationOptions) {}

  /** One process: always reachable. */
  assertReachable(): void {}

  async revokeSessions(sessionIds: readonly string[]): Promise<void> {
    this.revokeSessionsNow(sessionIds);
  }

  revokeSessionsNow(sessionIds: readonly string[]): void {
    const until = this.options.now() + this.options.ttlMs;
    for (const id of sessionIds) this.sessions.set(id, until);
    this.sweep();
  }

  async recordAuthorisation(userId: number, authz: Authorisation): Promise<void> {
    this.recordAuthorisationNow(userId, authz);
  }

  /** Only ever moves forward: a late message of an older version does not undo a newer change. */
  recordAuthorisationNow(userId: number, authz: Authorisation): void {
    const current = this.versions.get(userId);
    if (current && current.version >= authz.version) return;
    this.versions.set(userId, { version: authz.version, standing: standingUnder(authz), until: this.options.now() + this.options.ttlMs });
  }

  standing(sessionId: string, userId: number, version: number): Standing {
    if (this.sessions.has(sessionId)) return REVOKED;
    const changed = this.versions.get(userId);
    return changed !== undefined && version < changed.version ? changed.standing : AS_ISSUED;
  }

  /**
   * Loads revocations made since `since` (by default the last access-token lifetime, so a restart
   * forgets nothing that matters). Applying one already known changes nothing.
   */
  async loadSince(source: RevocationSource, since = this.options.now() - this.options.ttlMs): Promise<void> {
    this.revokeSessionsNow(await source.revokedSessionsSince(since));
    for (const { userId, ...authz } of await source.authorisationsChangedSince(since)) this.recordAuthorisationNow(userId, authz);
  }

  async close(): Promise<void> {
    this.sessions.clear();
    this.versions.clear();
  }

  /** Drops expired entries at most once a minute, so memory stays bounded by one token lifetime of revocations. */
  private sweep(): void {
    const now = this.options.now();
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [id, until] of this.sessions) if (until <= now) this.sessions.delete(id);
    for (const [id, entry] of this.versions) if (entry.until <= now) this.versions.delete(id);
  }
}
