// API keys: creation (scopes never beyond the owner's role), listing, revocation, and the check
// behind every API-key request: one query by prefix, a constant-time hash comparison, and the
// owner's current role and activity.
import { randomUUID } from 'node:crypto';
import { apiKeyMatches, generateApiKey, hashApiKey, parseApiKey } from '../crypto/api-keys.js';
import { HttpError, invalid } from '../errors/http-error.js';
import { UniqueViolationError, type ApiKey, type Role, type Storage } from '../storage/index.js';
import type { AuditLog } from './audit.js';
import type { Logger, RequestContext } from './context.js';
import { isScope, scopesForRole, type Scope } from './scopes.js';

const DAY = 86_400_000;
/** last_used_at is a hint for the owner, not an audit trail: one write a minute per key is enough. */
const TOUCH_INTERVAL_MS = 60_000;

export interface NewApiKey {
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresInDays?: number;
}

/** Who is creating the key: the owner, through a session whose token holds `scopes`. */
export interface KeyCreator {
  readonly userId: number;
  readonly scopes: ReadonlySet<string>;
}

/** What a valid key proves: its owner, acting within the key's scopes as far as the role allows now. */
export interface ApiKeyIdentity {
  readonly keyId: string;
  readonly userId: number;
  readonly role: Role;
  readonly scopes: Scope[];
}

export interface ApiKeyServiceOptions {
  readonly storage: Storage;
  readonly audit: AuditLog;
  readonly hashKey: Buffer;
  readonly log: Logger;
  readonly now: () => number;
}

export function invalidApiKey(detail?: string): HttpError {
  // Contract: every 401 names the Bearer scheme, with invalid_token when a credential was refused.
  return new HttpError('INVALID_API_KEY', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' }, ...(detail ? { detail } : {}) });
}

export class ApiKeyService {
  /** last_used_at writes not yet finished (they do not hold up the request). */
  private readonly touching = new Set<Promise<void>>();

  constructor(private readonly o: ApiKeyServiceOptions) {}

  /** Resolves when every last_used_at write started so far has finished: for draining and tests. */
  async settled(): Promise<void> {
    await Promise.all([...this.touching]);
  }

  async create(creator: KeyCreator, input: NewApiKey, ctx: RequestContext): Promise<{ apiKey: ApiKey; key: string }> {
    const owner = await this.o.storage.users.findById(creator.userId);
    if (!owner || !owner.isActive) throw new HttpError('INVALID_TOKEN', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    const allowed: readonly string[] = scopesForRole(owner.role);
    // An unknown scope, or one the role does not hold (`admin` on a user's key), is a 422 on that item.
    input.scopes.forEach((scope, i) => {
      if (!isScope(scope)) throw invalid(['body', 'scopes', i], "Input should be 'profile:read', 'profile:write' or 'admin'", 'literal_error');
      if (!allowed.includes(scope)) throw invalid(['body', 'scopes', i], `Scope '${scope}' is beyond your role`, 'value_error');
    });
    // Nor beyond the session creating it: a read-only token cannot mint a read-write key.
    if (!input.scopes.every((s) => creator.scopes.has(s))) throw new HttpError('INSUFFICIENT_SCOPE');
    const scopes = [...new Set(input.scopes)];
    const now = this.o.now();
    const expiresAt = input.expiresInDays === undefined ? null : now + input.expiresInDays * DAY;
    for (let attempt = 1; ; attempt++) {
      const issued = generateApiKey();
      try {
        const apiKey = await this.o.storage.apiKeys.create({
          id: randomUUID(), userId: owner.id, name: input.name, prefix: issued.prefix,
          secretHash: hashApiKey(this.o.hashKey, issued.key), scopes, createdAt: now, expiresAt,
        });
        await this.o.audit.record('apikey.create', ctx, { userId: owner.id, outcome: 'success', details: { api_key_id: apiKey.id, prefix: apiKey.prefix } });
        return { apiKey, key: issued.key };
      } catch (err) {
        // A prefix clash is rare (36^8 ids); try a fresh one a few times.
        if (!(err instanceof UniqueViolationError && err.field === 'prefix' && attempt < 5)) throw err;
      }
    }
  }

  list(userId: number): Promise<ApiKey[]> {
    return this.o.storage.apiKeys.listForUser(userId);
  }

  /** Revokes one of the caller's keys; another user's (or an unknown or revoked) key is 404. */
  async revoke(userId: number, keyId: string, ctx: RequestContext): Promise<void> {
    if (!(await this.o.storage.apiKeys.revoke(keyId, userId, this.o.now()))) throw new HttpError('NOT_FOUND', { detail: 'API key not found' });
    await this.o.audit.record('apikey.revoke', ctx, { userId, outcome: 'success', details: { api_key_id: keyId } });
  }

  /** The identity behind a presented key; throws the 401 for a malformed, unknown, revoked or expired key. */
  async authenticate(presented: string): Promise<ApiKeyIdentity> {
    const parsed = parseApiKey(presented);
    if (!parsed) throw invalidApiKey();
    const found = await this.o.storage.apiKeys.findByPrefixWithOwner(parsed.prefix);
    const now = this.o.now();
    // The hash is computed and compared even for an unknown prefix: both refusals take the same time.
    const matches = apiKeyMatches(this.o.hashKey, presented, found?.key.secretHash ?? '');
    if (!found || !matches) throw invalidApiKey();
    const { key, owner } = found;
    if (key.revokedAt !== null || (key.expiresAt !== null && key.expiresAt <= now) || !owner.isActive) throw invalidApiKey();
    this.touch(key, now);
    const role: Role = owner.role === 'admin' ? 'admin' : 'user';
    // The key's scopes as far as the owner's role allows today: a demoted admin's key loses `admin` at once.
    const allowed: readonly string[] = scopesForRole(role);
    return { keyId: key.id, userId: key.userId, role, scopes: key.scopes.filter((s): s is Scope => isScope(s) && allowed.includes(s)) };
  }

  /** Fire-and-forget, at most once a minute per key; a failed write is logged, never an unhandled rejection. */
  private touch(key: ApiKey, now: number): void {
    if (key.lastUsedAt !== null && now - key.lastUsedAt < TOUCH_INTERVAL_MS) return;
    const write = this.o.storage.apiKeys.touchLastUsed(key.id, now).catch((err: unknown) => {
      this.o.log.warn({ err: String((err as Error)?.message ?? err), api_key_id: key.id }, 'could not record API key use');
    });
    this.touching.add(write);
    void write.finally(() => this.touching.delete(write));
  }
}
