// Users: the only SQL that reads or writes the users table.
import { sql, type Kysely } from 'kysely';
import type { CompiledReader } from '../database.js';
import type { Database, UserRow } from '../schema.js';
import { asUniqueViolation } from '../errors.js';
import { PreparedRead } from './prepared.js';

export type Role = 'user' | 'admin';
export const ROLES: readonly Role[] = ['user', 'admin'];

export interface User {
  readonly id: number;
  readonly username: string;
  readonly email: string;
  readonly fullName: string | null;
  readonly passwordHash: string;
  readonly role: Role;
  readonly isActive: boolean;
  readonly authzVersion: number;
  readonly mfaEnabled: boolean;
  readonly mfaSecret: string | null;
  readonly mfaPendingSecret: string | null;
  readonly mfaLastStep: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What an account shows of itself (the user JSON): no hash, no secret. */
export type UserProfile = Pick<User, 'id' | 'username' | 'email' | 'fullName' | 'role' | 'isActive' | 'mfaEnabled' | 'createdAt'>;

/** The columns of a UserProfile: the profile read converts these and nothing else. */
const PROFILE_COLUMNS = ['id', 'username', 'email', 'full_name', 'role', 'is_active', 'mfa_enabled', 'created_at'] as const;
type ProfileRow = Pick<UserRow, (typeof PROFILE_COLUMNS)[number]>;

export interface NewUser {
  readonly username: string;
  readonly email: string;
  readonly fullName: string | null;
  readonly passwordHash: string;
  readonly role: Role;
  readonly isActive?: boolean;
}

export interface UserPatch {
  readonly email?: string;
  readonly fullName?: string | null;
  readonly passwordHash?: string;
  readonly role?: Role;
  readonly isActive?: boolean;
  readonly mfaEnabled?: boolean;
  readonly mfaSecret?: string | null;
  readonly mfaPendingSecret?: string | null;
}

/** Values the row must still hold for an update to apply (see `update`). */
export interface UserExpectation {
  readonly passwordHash?: string;
  readonly mfaPendingSecret?: string;
}

export interface UserListQuery {
  readonly q?: string;
  readonly limit: number;
  readonly offset: number;
}

function toProfile(row: ProfileRow): UserProfile {
  return {
    id: Number(row.id),
    username: row.username,
    email: row.email,
    fullName: row.full_name,
    role: row.role === 'admin' ? 'admin' : 'user',
    isActive: Number(row.is_active) === 1,
    mfaEnabled: Number(row.mfa_enabled) === 1,
    createdAt: Number(row.created_at),
  };
}

function toUser(row: UserRow): User {
  return {
    ...toProfile(row),
    passwordHash: row.password_hash,
    authzVersion: Number(row.authz_version),
    mfaSecret: row.mfa_secret,
    mfaPendingSecret: row.mfa_pending_secret,
    mfaLastStep: row.mfa_last_step === null ? null : Number(row.mfa_last_step),
    updatedAt: Number(row.updated_at),
  };
}

/**
 * Usernames and emails are ASCII (their rules), so case is folded for A–Z only, as SQLite's lower()
 * does: JavaScript's toLowerCase() folds look-alikes too (the Kelvin sign U+212A becomes "k"), and
 * "\u212Aelvin" signed in as kelvin, a name the username rule itself refuses.
 */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** `%`, `_` and the escape itself are literal in a substring search. */
function likePattern(q: string): string {
  return `%${asciiLower(q).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class UsersRepository {
  constructor(private readonly db: Kysely<Database>, private readonly read?: CompiledReader) {}

  /** Inserts a user; throws UniqueViolationError('username' | 'email') on a case-insensitive clash. */
  async create(user: NewUser, now: number): Promise<User> {
    try {
      const row = await this.db.insertInto('users').values({
        username: user.username,
        email: user.email,
        full_name: user.fullName,
        password_hash: user.passwordHash,
        role: user.role,
        is_active: user.isActive === false ? 0 : 1,
        authz_version: 1,
        mfa_enabled: 0,
        created_at: now,
        updated_at: now,
      }).returningAll().executeTakeFirstOrThrow();
      return toUser(row);
    } catch (err) {
      throw asUniqueViolation(err) ?? err;
    }
  }

  private readonly byId = new PreparedRead(() => this.db.selectFrom('users').selectAll().where('id', '=', 0));
  /**
   * This read runs on every `GET /users/me` (docs/performance.md): only the profile's columns, since
   * turning the hash and the MFA secrets into strings cost as much as the query.
   */
  private readonly profileById = new PreparedRead(() => this.db.selectFrom('users').select(PROFILE_COLUMNS).where('id', '=', 0));

  async findById(id: number): Promise<User | undefined> {
    const [row] = await this.byId.rows(this.db, this.read, [id]);
    return row && toUser(row);
  }

  async findProfile(id: number): Promise<UserProfile | undefined> {
    const [row] = await this.profileById.rows(this.db, this.read, [id]);
    return row && toProfile(row);
  }

  /** By username, or by email when the identifier contains "@"; case-insensitive either way. */
  async findByLogin(identifier: string): Promise<User | undefined> {
    const column = identifier.includes('@') ? 'email' : 'username';
    const row = await this.db.selectFrom('users').selectAll()
      .where(sql<string>`lower(${sql.ref(column)})`, '=', asciiLower(identifier))
      .executeTakeFirst();
    return row && toUser(row);
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll()
      .where(sql<string>`lower(email)`, '=', asciiLower(email)).executeTakeFirst();
    return row && toUser(row);
  }

  /**
   * Applies the patch; undefined when there is no such user — or, with `expect`, when the row no
   * longer holds those values (a compare-and-set: of two racing changes made from one state, one wins).
   * Role and activity changes bump authz_version, so older access tokens follow the change.
   */
  async update(id: number, patch: UserPatch, now: number, expect: UserExpectation = {}): Promise<User | undefined> {
    const values: Record<string, unknown> = { updated_at: now };
    if (patch.email !== undefined) values.email = patch.email;
    if (patch.fullName !== undefined) values.full_name = patch.fullName;
    if (patch.passwordHash !== undefined) values.password_hash = patch.passwordHash;
    if (patch.role !== undefined) values.role = patch.role;
    if (patch.isActive !== undefined) values.is_active = patch.isActive ? 1 : 0;
    if (patch.mfaEnabled !== undefined) values.mfa_enabled = patch.mfaEnabled ? 1 : 0;
    if (patch.mfaSecret !== undefined) values.mfa_secret = patch.mfaSecret;
    if (patch.mfaPendingSecret !== undefined) values.mfa_pending_secret = patch.mfaPendingSecret;
    // A factor switched off or replaced starts with no step used: the old secret's steps say nothing of the new one's.
    if (patch.mfaEnabled === false || patch.mfaSecret !== undefined) {
      values.mfa_last_step = null;
      values.mfa_previous_step = null;
    }
    const bumps = patch.role !== undefined || patch.isActive !== undefined;
    try {
      const row = await this.db.updateTable('users')
        .set(bumps ? { ...values, authz_version: sql<number>`authz_version + 1` } : values)
        .where('id', '=', id)
        .$if(expect.passwordHash !== undefined, (q) => q.where('password_hash', '=', expect.passwordHash!))
        .$if(expect.mfaPendingSecret !== undefined, (q) => q.where('mfa_pending_secret', '=', expect.mfaPendingSecret!))
        .returningAll()
        .executeTakeFirst();
      return row && toUser(row);
    } catch (err) {
      throw asUniqueViolation(err) ?? err;
    }
  }

  /**
   * Records `step` as used, only if no request used it before: a step newer than the last accepted,
   * or the one just before the last that is not yet used (a code of the previous step that no
   * sign-in used still passes once the current one did). Each is a compare-and-set, so a replayed
   * code fails even when two requests race; older steps never pass.
   */
  async acceptTotpStep(id: number, step: number, secret: string): Promise<boolean> {
    // Still the factor the code was checked against: a disable that committed meanwhile (it
    // clears the steps) must not reopen the step for a sign-in racing it.
    const ofFactor = this.db.updateTable('users').where('id', '=', id)
      .where('mfa_enabled', '=', 1).where('mfa_secret', '=', secret);
    const newer = await ofFactor
      .set((eb) => ({ mfa_previous_step: eb.ref('mfa_last_step'), mfa_last_step: step }))
      .where((eb) => eb.or([eb('mfa_last_step', 'is', null), eb('mfa_last_step', '<', step)]))
      .executeTakeFirst();
    if (Number(newer.numUpdatedRows) === 1) return true;
    const justBefore = await ofFactor.set({ mfa_previous_step: step })
      .where('mfa_last_step', '=', step + 1)
      .where((eb) => eb.or([eb('mfa_previous_step', 'is', null), eb('mfa_previous_step', '<', step)]))
      .executeTakeFirst();
    return Number(justBefore.numUpdatedRows) === 1;
  }

  async list(query: UserListQuery): Promise<{ users: User[]; total: number }> {
    let base = this.db.selectFrom('users');
    if (query.q) {
      const pattern = likePattern(query.q);
      base = base.where((eb) => eb.or([
        eb(sql<string>`lower(username)`, 'like', sql<string>`${pattern} escape '\\'`),
        eb(sql<string>`lower(email)`, 'like', sql<string>`${pattern} escape '\\'`),
      ]));
    }
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('id').limit(query.limit).offset(query.offset).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { users: rows.map(toUser), total: Number(count.n) };
  }

  /**
   * Inside a transaction: takes the row locks of every active admin (a no-op write), so that two
   * transactions about to remove an admin run one after the other and the second counts what the
   * first left — on PostgreSQL, two concurrent demotions would otherwise both see two admins.
   */
  async lockActiveAdmins(): Promise<void> {
    await this.db.updateTable('users').set({ updated_at: sql<number>`updated_at` })
      .where('role', '=', 'admin').where('is_active', '=', 1).execute();
  }

  /** The stored bcrypt hash (imported, not yet re-hashed) of the highest cost, if any: what the slowest verify costs. */
  async costliestLegacyHash(): Promise<string | undefined> {
    const row = await this.db.selectFrom('users').select('password_hash')
      .where('password_hash', 'like', '$2%')
      .orderBy(sql`substr(password_hash, 5, 2)`, 'desc').limit(1).executeTakeFirst();
    return row?.password_hash;
  }

  async countActiveAdmins(): Promise<number> {
    const row = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'admin').where('is_active', '=', 1).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Every admin, active or not (bootstrap asks "does any admin exist?"). */
  async countAdmins(): Promise<number> {
    const row = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'admin').executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Users whose authorisation changed since `since`, as it is now: older tokens follow it. */
  async authzChangedSince(since: number): Promise<{ userId: number; version: number; role: Role; active: boolean }[]> {
    const rows = await this.db.selectFrom('users').select(['id', 'authz_version', 'role', 'is_active'])
      .where('updated_at', '>=', since).where('authz_version', '>', 1).execute();
    return rows.map((r) => ({ userId: Number(r.id), version: Number(r.authz_version), role: r.role === 'admin' ? 'admin' : 'user', active: Number(r.is_active) === 1 }));
  }
}
