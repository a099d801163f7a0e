// API keys: the only SQL for api_keys. Secrets are stored as keyed hashes, never in clear.
import type { Kysely } from 'kysely';
import type { ApiKeyRow, Database } from '../schema.js';
import type { CompiledReader } from '../database.js';
import { asUniqueViolation } from '../errors.js';
import { PreparedRead } from './prepared.js';

export interface ApiKey {
  readonly id: string;
  readonly userId: number;
  readonly name: string;
  readonly prefix: string;
  readonly secretHash: string;
  readonly scopes: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    userId: Number(row.user_id),
    name: row.name,
    prefix: row.prefix,
    secretHash: row.secret_hash,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

export class ApiKeysRepository {
  constructor(private readonly db: Kysely<Database>, private readonly read?: CompiledReader) {}

  /** Every API-key request runs this read (docs/benchmarks.md). */
  private readonly byPrefixWithOwner = new PreparedRead(() => this.db.selectFrom('api_keys').innerJoin('users', 'users.id', 'api_keys.user_id')
    .selectAll('api_keys').select(['users.role as owner_role', 'users.is_active as owner_is_active'])
    .where('api_keys.prefix', '=', ''));

  async create(key: Omit<ApiKey, 'lastUsedAt' | 'revokedAt'>): Promise<ApiKey> {
    try {
      const row = await this.db.insertInto('api_keys').values({
        id: key.id,
        user_id: key.userId,
        name: key.name,
        prefix: key.prefix,
        secret_hash: key.secretHash,
        scopes: JSON.stringify(key.scopes),
        created_at: key.createdAt,
        expires_at: key.expiresAt,
      }).returningAll().executeTakeFirstOrThrow();
      return toApiKey(row);
    } catch (err) {
      throw asUniqueViolation(err) ?? err;
    }
  }

  async findByPrefix(prefix: string): Promise<ApiKey | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('prefix', '=', prefix).executeTakeFirst();
    return row && toApiKey(row);
  }

  /** The key and its owner's role and activity in one query: API-key authentication reads nothing else. */
  async findByPrefixWithOwner(prefix: string): Promise<{ key: ApiKey; owner: { role: string; isActive: boolean } } | undefined> {
    const [row] = await this.byPrefixWithOwner.rows(this.db, this.read, [prefix]);
    if (!row) return undefined;
    const { owner_role, owner_is_active, ...key } = row;
    return { key: toApiKey(key), owner: { role: owner_role, isActive: Number(owner_is_active) === 1 } };
  }

  /** The owner's keys that are not revoked, oldest first. */
  async listForUser(userId: number): Promise<ApiKey[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll()
      .where('user_id', '=', userId).where('revoked_at', 'is', null).orderBy('created_at').orderBy('id').execute();
    return rows.map(toApiKey);
  }

  /** Revokes a key of this owner only; false when it is not theirs, unknown, or already revoked. */
  async revoke(id: string, userId: number, now: number): Promise<boolean> {
    const result = await this.db.updateTable('api_keys').set({ revoked_at: now })
      .where('id', '=', id).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Revokes every live key of this owner; how many were revoked. */
  async revokeAllForUser(userId: number, now: number): Promise<number> {
    const result = await this.db.updateTable('api_keys').set({ revoked_at: now })
      .where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async touchLastUsed(id: string, now: number): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', id).execute();
  }
}
