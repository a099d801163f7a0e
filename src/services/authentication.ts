// Proving who you are: username-or-email and password, then the second factor when enabled.
// Unknown user and wrong password cost the same (a dummy verify) and answer the same; every
// failure is audited and counted toward the account's lockout.
import type { PasswordHasher } from '../crypto/passwords.js';
import { keyedHash } from '../crypto/secrets.js';
import { userAccountKey } from '../limits/lockout.js';
import { HttpError } from '../errors/http-error.js';
import type { Storage, User } from '../storage/index.js';
import type { AuditLog } from './audit.js';
import type { Logger, RequestContext } from './context.js';

/**
 * Per-account failure counting (the lockout); the no-op version counts nothing. Every attempt at
 * proving who you are begins (refused while locked) and is given its outcome after — which is
 * judged again then: a burst sent at once would all pass a check made only before the slow argon2
 * verify, and hundreds of guesses would be answered where LOCKOUT_THRESHOLD were allowed.
 */
export interface LoginThrottle {
  /** Begins one attempt for the account, or throws ACCOUNT_LOCKED (429) while it is locked. */
  begin(accountKey: string, userId: number | null, ctx: RequestContext): Promise<LoginAttempt>;
}

export interface LoginAttempt {
  /**
   * The proof failed: counted (the failure reaching the threshold locks); throws ACCOUNT_LOCKED if the
   * lock came first. `record` audits the failure: run once it counts as one, before the lock it may
   * cause, and not at all when the lock came first (that refusal is audited as `blocked`), so the audit
   * says what the client was told.
   */
  failed(record?: () => Promise<void>): Promise<void>;
  /** The proof held: the account's failures and lockouts are forgotten; throws ACCOUNT_LOCKED if the lock came first. */
  succeeded(): Promise<void>;
}

const NO_ATTEMPT: LoginAttempt = { failed: async (record) => record?.(), succeeded: async () => undefined };

export const NO_THROTTLE: LoginThrottle = { begin: async () => NO_ATTEMPT };

/** The second factor (TOTP or a recovery code); absent until MFA is wired in. */
export interface SecondFactor {
  /** True when `code` is a valid, unused TOTP code or recovery code for this user (and consumes it). */
  verify(user: User, code: string, ctx: RequestContext): Promise<boolean>;
}

export interface AuthenticationOptions {
  readonly storage: Storage;
  readonly hasher: PasswordHasher;
  readonly audit: AuditLog;
  readonly throttle: LoginThrottle;
  /** derivedKeys.lockoutName: see accountKey. */
  readonly nameKey: Buffer;
  readonly secondFactor?: SecondFactor;
  readonly log: Logger;
  readonly now: () => number;
}

/**
 * The lockout counts per account; for names that match no account, per name, so both look alike.
 * A name is kept as its keyed hash: people type passwords into the username box, and the count's
 * key lives in Redis (or memory) for the lockout window.
 */
export function accountKey(user: User | undefined, identifier: string, nameKey: Buffer): string {
  return user ? userAccountKey(user.id) : `name:${keyedHash(nameKey, identifier.trim().toLowerCase())}`;
}


const MAX_IDENTIFIER = 320;

export class AuthenticationService {
  constructor(private readonly o: AuthenticationOptions) {}

  async authenticate(identifier: string, password: string, otp: string | undefined, ctx: RequestContext): Promise<User> {
    const startedAt = performance.now();
    const lookup = identifier.trim();
    const user = lookup.length > 0 && lookup.length <= MAX_IDENTIFIER ? await this.o.storage.users.findByLogin(lookup) : undefined;
    const attempt = await this.o.throttle.begin(accountKey(user, lookup, this.o.nameKey), user?.id ?? null, ctx);
    const proven = user
      ? await this.verifyAndUpgrade(user, password)
      : (await this.o.hasher.verifyDummy(password), undefined);
    if (!user || !proven) {
      await this.fail(attempt, user?.id ?? null, ctx, 'password');
      // Unknown name, wrong argon2id password, wrong password of an imported bcrypt account: one answer, one time.
      await this.o.hasher.equalizeFailure(startedAt);
      throw new HttpError('INVALID_CREDENTIALS');
    }
    // Checked after the password, so an inactive account is indistinguishable until proven.
    if (!user.isActive) {
      await this.o.audit.record('login.failure', ctx, { userId: user.id, outcome: 'failure', details: { reason: 'inactive' } });
      throw new HttpError('INACTIVE_USER');
    }
    if (user.mfaEnabled) {
      const ok = otp !== undefined && otp.trim() !== '' && this.o.secondFactor !== undefined
        && (await this.o.secondFactor.verify(user, otp.trim(), ctx));
      if (!ok) {
        // A missing code is not an attack; a wrong one counts like a wrong password.
        if (otp !== undefined && otp.trim() !== '') await this.fail(attempt, user.id, ctx, 'otp');
        throw new HttpError('MFA_REQUIRED', { extra: { error: 'mfa_required' } });
      }
    }
    await attempt.succeeded();
    await this.o.audit.record('login.success', ctx, { userId: user.id, outcome: 'success', details: { mfa: user.mfaEnabled } });
    return proven;
  }

  /**
   * Re-confirms the signed-in user's password (email change, password change): the user with the
   * hash proven (after any upgrade), or undefined. A wrong one counts toward the lockout like a
   * failed sign-in, so a stolen session cannot guess the password freely.
   */
  async confirmPassword(user: User, password: string | undefined, ctx: RequestContext): Promise<User | undefined> {
    // No password is no guess: refused, but it does not count toward the lockout (a script with a
    // profile:write key that forgot the field must not lock its owner out).
    if (password === undefined) return undefined;
    const attempt = await this.o.throttle.begin(userAccountKey(user.id), user.id, ctx);
    const proven = await this.verifyAndUpgrade(user, password);
    if (!proven) await this.fail(attempt, user.id, ctx, 'reauthentication');
    return proven;
  }

  /**
   * Checks the password; a bcrypt or weaker hash is replaced by a fresh argon2id one on success.
   * Returns the user with the hash now in force (what a new session is checked against), or
   * undefined for a wrong password.
   */
  async verifyAndUpgrade(user: User, password: string): Promise<User | undefined> {
    const result = await this.o.hasher.verify(user.passwordHash, password);
    if (!result.ok) return undefined;
    if (!result.needsRehash) return user;
    const passwordHash = await this.o.hasher.hash(password);
    const upgraded = await this.o.storage.users.update(user.id, { passwordHash }, this.o.now(), { passwordHash: user.passwordHash });
    if (upgraded) {
      this.o.log.info({ user_id: user.id }, 'password hash upgraded to argon2id');
      return upgraded;
    }
    // The hash changed while this one was verified: another sign-in of the same imported account
    // upgraded it first (two tabs at once), or the password was changed. Judged against the hash
    // now in force, so the first case signs in and the second is refused.
    const current = await this.o.storage.users.findById(user.id);
    if (!current || current.passwordHash === user.passwordHash) return undefined;
    return (await this.o.hasher.verify(current.passwordHash, password)).ok ? current : undefined;
  }

  private async fail(attempt: LoginAttempt, userId: number | null, ctx: RequestContext, reason: string): Promise<void> {
    await attempt.failed(() => this.o.audit.record('login.failure', ctx, { userId, outcome: 'failure', details: { reason } }));
  }
}
