// Access-token revocation at request speed: checked on every authenticated request, in O(1),
// without touching the database. The database stays the source of truth (sessions.revoked_at,
// users.authz_version); this store mirrors what matters for one access-token lifetime, because
// after that every token it could refuse has expired anyway.

export interface RevocationStore {
  /** Access tokens of these sessions are refused from now on. */
  revokeSessions(sessionIds: readonly string[]): Promise<void>;
  /** Access tokens of this user carrying an older `ver` are refused from now on. */
  requireAuthzVersion(userId: number, version: number): Promise<void>;
  /** True when a token with these claims must be refused. */
  isRevoked(sessionId: string, userId: number, version: number): boolean | Promise<boolean>;
  close(): Promise<void>;
}

/** What a fresh process (or a reconnecting one) reloads from the database. */
export interface RevocationSource {
  revokedSessionsSince(since: number): Promise<readonly string[]>;
  authzVersionsChangedSince(since: number): Promise<readonly { id: number; authzVersion: number }[]>;
}

export interface MemoryRevocationOptions {
  /** How long an entry must be kept: the access-token lifetime. */
  readonly ttlMs: number;
  readonly now: () => number;
}

/** In-process store for a single instance. Entries expire after one access-token lifetime. */
export class MemoryRevocationStore implements RevocationStore {
  private readonly sessions = new Map<string, number>();
  private readonly versions = new Map<number, { version: number; until: number }>();
  private lastSweep = 0;

  constructor(private readonly options: MemoryRevocationOptions) {}

  async revokeSessions(sessionIds: readonly string[]): Promise<void> {
    this.revokeSessionsNow(sessionIds);
  }

  revokeSessionsNow(sessionIds: readonly string[]): void {
    const until = this.options.now() + this.options.ttlMs;
    for (const id of sessionIds) this.sessions.set(id, until);
    this.sweep();
  }

  async requireAuthzVersion(userId: number, version: number): Promise<void> {
    this.requireAuthzVersionNow(userId, version);
  }

  requireAuthzVersionNow(userId: number, version: number): void {
    const current = this.versions.get(userId);
    if (!current || current.version < version) this.versions.set(userId, { version, until: this.options.now() + this.options.ttlMs });
  }

  isRevoked(sessionId: string, userId: number, version: number): boolean {
    if (this.sessions.has(sessionId)) return true;
    const required = this.versions.get(userId);
    return required !== undefined && version < required.version;
  }

  /** Loads revocations from the last access-token lifetime, so a restart forgets nothing that matters. */
  async warm(source: RevocationSource): Promise<void> {
    const since = this.options.now() - this.options.ttlMs;
    this.revokeSessionsNow(await source.revokedSessionsSince(since));
    for (const { id, authzVersion } of await source.authzVersionsChangedSince(since)) this.requireAuthzVersionNow(id, authzVersion);
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
