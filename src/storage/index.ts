// Storage: one handle over the database and every repository, plus transactions that give
// repositories bound to the transaction. Nothing above this folder writes SQL.
import type { Kysely } from 'kysely';
import { openDatabase, type CompiledReader, type DatabaseHandle, type OpenOptions } from './database.js';
import { migrateToLatest } from './migrate.js';
import type { Database } from './schema.js';
import { ApiKeysRepository } from './repositories/api-keys.js';
import { AuditRepository } from './repositories/audit.js';
import { PasswordResetRepository, RecoveryCodesRepository, ResetRequestsRepository } from './repositories/credentials.js';
import { ExternalIdentitiesRepository, SigningKeysRepository } from './repositories/keys.js';
import { SessionsRepository } from './repositories/sessions.js';
import { UsersRepository } from './repositories/users.js';

export interface Repositories {
  readonly users: UsersRepository;
  readonly sessions: SessionsRepository;
  readonly apiKeys: ApiKeysRepository;
  readonly audit: AuditRepository;
  readonly passwordResets: PasswordResetRepository;
  readonly resetRequests: ResetRequestsRepository;
  readonly recoveryCodes: RecoveryCodesRepository;
  readonly signingKeys: SigningKeysRepository;
  readonly identities: ExternalIdentitiesRepository;
}

/** `read` is the handle's compiled-read fast path; absent inside transactions, which must use their own connection. */
export function repositories(db: Kysely<Database>, read?: CompiledReader): Repositories {
  return {
    users: new UsersRepository(db, read),
    sessions: new SessionsRepository(db),
    apiKeys: new ApiKeysRepository(db, read),
    audit: new AuditRepository(db),
    passwordResets: new PasswordResetRepository(db),
    resetRequests: new ResetRequestsRepository(db),
    recoveryCodes: new RecoveryCodesRepository(db),
    signingKeys: new SigningKeysRepository(db),
    identities: new ExternalIdentitiesRepository(db),
  };
}

export interface Storage extends Repositories {
  readonly handle: DatabaseHandle;
  /** Runs `work` in one transaction; the repositories it receives are bound to it. Run again (at most 3 times) after a PostgreSQL deadlock or serialization failure. */
  transaction<T>(work: (repos: Repositories) => Promise<T>): Promise<T>;
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * PostgreSQL's "run it again" answers: a deadlock (40P01) or a serialization failure (40001) rolled
 * the whole transaction back, so running the work anew is safe, and it then sees what the winner
 * committed (two password resets of one account lock the same rows in opposite orders, say: the
 * loser then finds its token spent, a 400, not a 500). The work must only touch the database.
 */
const RETRYABLE_CODES = new Set(['40P01', '40001']);
const TRANSACTION_ATTEMPTS = 3;

async function inTransaction<T>(handle: DatabaseHandle, work: (repos: Repositories) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await handle.db.transaction().execute((trx) => work(repositories(trx)));
    } catch (err) {
      if (attempt >= TRANSACTION_ATTEMPTS || !RETRYABLE_CODES.has(String((err as { code?: unknown })?.code))) throw err;
    }
  }
}

export function createStorage(handle: DatabaseHandle): Storage {
  return {
    handle,
    ...repositories(handle.db, handle.readCompiled),
    transaction: (work) => inTransaction(handle, work),
    ping: (timeoutMs) => handle.ping(timeoutMs),
    close: () => handle.close(),
  };
}

/** Opens the database, brings its schema up to date, and returns the storage over it. */
export async function openStorage(url: string, options: OpenOptions = {}): Promise<Storage> {
  const handle = openDatabase(url, options);
  try {
    await migrateDatabase(url, options, handle);
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
  return createStorage(handle);
}

/** Migrations on PostgreSQL get their own short-lived pool without per-query timeouts. */
export async function migrateDatabase(url: string, options: OpenOptions, handle?: DatabaseHandle): Promise<readonly string[]> {
  if (handle?.dialect === 'sqlite') return (await migrateToLatest(handle)).applied;
  const migrator = openDatabase(url, { ...options, queryTimeouts: 'none' });
  try {
    return (await migrateToLatest(migrator)).applied;
  } finally {
    await migrator.close();
  }
}

export { UniqueViolationError, isDatabaseUnavailable, classifyDatabaseError } from './errors.js';
export type { ResetRequest } from './repositories/credentials.js';
export type { User, UserProfile, Role, NewUser, UserPatch } from './repositories/users.js';
export type { Session, SessionKind, RefreshToken } from './repositories/sessions.js';
export type { ApiKey } from './repositories/api-keys.js';
export type { AuditEvent, NewAuditEvent, AuditQuery } from './repositories/audit.js';
export type { DatabaseHandle, Dialect } from './database.js';
