// Signing keys for EdDSA/ES256 access tokens, and links from external identities to local users.
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { asUniqueViolation } from '../errors.js';

export interface SigningKeyRecord {
  readonly kid: string;
  readonly algorithm: string;
  /** Encrypted private JWK. */
  readonly privateJwk: string;
  readonly publicJwk: string;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

export class SigningKeysRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(algorithm: string): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().where('algorithm', '=', algorithm)
      .orderBy('created_at').orderBy('kid').execute();
    return rows.map((r) => ({
      kid: r.kid, algorithm: r.algorithm, privateJwk: r.private_jwk, publicJwk: r.public_jwk,
      createdAt: Number(r.created_at), retiredAt: r.retired_at === null ? null : Number(r.retired_at),
    }));
  }

  /** Inserts a key; returns false when a key with this kid exists (another process won the race). */
  async insert(key: Omit<SigningKeyRecord, 'retiredAt'>): Promise<boolean> {
    try {
      await this.db.insertInto('signing_keys').values({
        kid: key.kid, algorithm: key.algorithm, private_jwk: key.privateJwk, public_jwk: key.publicJwk, created_at: key.createdAt,
      }).execute();
      return true;
    } catch (err) {
      if (asUniqueViolation(err)) return false;
      throw err;
    }
  }

  /** Retires every current key of `algorithm` except `keep`. */
  async retireOthers(algorithm: string, keep: string, now: number): Promise<void> {
    await this.db.updateTable('signing_keys').set({ retired_at: now })
      .where('algorithm', '=', algorithm).where('kid', '!=', keep).where('retired_at', 'is', null).execute();
  }

  async deleteRetiredBefore(before: number): Promise<void> {
    await this.db.deleteFrom('signing_keys').where('retired_at', '<', before).execute();
  }
}

export class ExternalIdentitiesRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async findUserId(issuer: string, subject: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('external_identities').select('user_id')
      .where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
    return row ? Number(row.user_id) : undefined;
  }

  /** Links (issuer, subject) to a user; false when the pair is already linked. */
  async link(issuer: string, subject: string, userId: number, now: number): Promise<boolean> {
    try {
      await this.db.insertInto('external_identities').values({ issuer, subject, user_id: userId, created_at: now }).execute();
      return true;
    } catch (err) {
      if (asUniqueViolation(err)) return false;
      throw err;
    }
  }
}
