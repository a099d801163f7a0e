// Accounts: sign-up, the profile, password change, and the admin's role and activity switches.
// Role changes and deactivation take effect at once on tokens already issued.
import type { PasswordHasher } from '../crypto/passwords.js';
import { passwordProblem, type PolicyOptions } from '../crypto/password-policy.js';
import { isEmailAddress, normalizeEmail } from '../email-address.js';
import { HttpError, invalid } from '../errors/http-error.js';
import type { RevocationStore } from '../limits/revocations.js';
import { UniqueViolationError, type Role, type Storage, type User, type UserProfile } from '../storage/index.js';
import type { AuditLog } from './audit.js';
import type { AuthenticationService } from './authentication.js';
import type { RequestContext } from './context.js';
import type { Announcement, SessionService } from './sessions.js';

/** The seeds' username rule; an "@" can never appear, so a username never equals an email. */
export const USERNAME_PATTERN = '^[A-Za-z0-9_]{3,50}$';
const USERNAME = new RegExp(USERNAME_PATTERN);

export interface Registration {
  readonly email: string;
  readonly username: string;
  readonly password: string;
  readonly fullName?: string | null;
}

export interface ProfilePatch {
  readonly fullName?: string | null;
  readonly email?: string;
  readonly currentPassword?: string;
}

export interface AdminPatch {
  readonly role?: Role;
  readonly isActive?: boolean;
}

export interface UserServiceOptions {
  readonly storage: Storage;
  readonly hasher: PasswordHasher;
  readonly policy: PolicyOptions;
  readonly sessions: SessionService;
  readonly authentication: AuthenticationService;
  readonly revocations: RevocationStore;
  readonly audit: AuditLog;
  readonly now: () => number;
}

function conflict(err: unknown): never {
  if (err instanceof UniqueViolationError) {
    throw new HttpError(err.field === 'email' ? 'EMAIL_TAKEN' : 'USERNAME_TAKEN');
  }
  throw err;
}

/** A deleted or deactivated account is refused like a bad token. */
function signedIn<U extends UserProfile>(user: U | undefined): U {
  if (!user || !user.isActive) throw new HttpError('INVALID_TOKEN', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
  return user;
}

export class UserService {
  constructor(private readonly o: UserServiceOptions) {}

  checkPassword(password: string, user: { username?: string; email?: string }, field: string): void {
    const problem = passwordProblem(password, user, this.o.policy);
    if (problem) throw invalid(['body', field], problem, 'value_error');
  }

  async register(input: Registration, role: Role = 'user'): Promise<User> {
    // The API's schema checks these too; this covers the CLI and start-up bootstrap.
    // The email first: the CLI derives the username from it, and a bad address is the thing to name.
    if (!isEmailAddress(input.email)) throw invalid(['body', 'email'], 'value is not a valid email address');
    if (!USERNAME.test(input.username)) throw invalid(['body', 'username'], `String should match pattern '${USERNAME_PATTERN}'`, 'string_pattern_mismatch');
    this.checkPassword(input.password, input, 'password');
    const passwordHash = await this.o.hasher.hash(input.password);
    return this.o.storage.users.create({
      username: input.username, email: normalizeEmail(input.email), fullName: input.fullName ?? null, passwordHash, role,
    }, this.o.now()).catch(async (err: unknown) => {
      // Both taken: which unique index fires first differs between SQLite and PostgreSQL; the
      // answer does not (the username, as the form asks for it first).
      if (err instanceof UniqueViolationError && (await this.o.storage.users.findByLogin(input.username))) throw new HttpError('USERNAME_TAKEN');
      return conflict(err);
    });
  }

  /** The signed-in user. */
  async current(userId: number): Promise<User> {
    return signedIn(await this.o.storage.users.findById(userId));
  }

  /** The signed-in user's profile only (what `GET /users/me` shows), refused like `current`. */
  async profile(userId: number): Promise<UserProfile> {
    return signedIn(await this.o.storage.users.findProfile(userId));
  }

  /** Profile edit: a new email needs the right current password (403 otherwise); nothing changes on refusal. */
  async updateProfile(userId: number, patch: ProfilePatch, ctx: RequestContext): Promise<User> {
    const user = await this.current(userId);
    const email = patch.email === undefined ? undefined : normalizeEmail(patch.email);
    const emailChanges = email !== undefined && email !== user.email;
    // A current_password that is sent is checked even where none is needed: a client that sends
    // one expects it to count, and a wrong one must not pass silently.
    if (emailChanges || patch.currentPassword !== undefined) {
      const ok = await this.o.authentication.confirmPassword(user, patch.currentPassword, ctx);
      if (!ok) throw new HttpError('WRONG_PASSWORD');
    }
    if (!emailChanges && patch.fullName === undefined) return user;
    const now = this.o.now();
    const updated = await this.o.storage.users.update(userId, {
      ...(emailChanges ? { email } : {}),
      ...(patch.fullName !== undefined ? { fullName: patch.fullName } : {}),
    }, now).catch(conflict);
    // A reset link mailed to the old address must not outlive the move away from that mailbox.
    if (emailChanges) await this.o.storage.passwordResets.invalidateForUser(userId, now);
    return updated ?? user;
  }

  /** Password change: every other session of the user ends; the caller's stays signed in. */
  async changePassword(userId: number, sessionId: string | undefined, current: string, next: string, ctx: RequestContext): Promise<void> {
    this.o.revocations.assertReachable();
    const user = await this.current(userId);
    const proven = await this.o.authentication.confirmPassword(user, current, ctx);
    if (!proven) throw new HttpError('WRONG_PASSWORD');
    this.checkPassword(next, user, 'new_password');
    const passwordHash = await this.o.hasher.hash(next);
    const now = this.o.now();
    // One transaction: the new password, the other sessions ended and the audit event commit
    // together, or none does — a crash in between must not leave a thief's session alive.
    const announce = await this.o.audit.transaction(this.o.storage, async (repos, record) => {
      // Compare-and-set on the hash just proven: of two changes racing from one current password,
      // one wins; the other's current_password is no longer the password, and it is told so.
      if (!(await repos.users.update(userId, { passwordHash }, now, { passwordHash: proven.passwordHash }))) return undefined;
      await repos.passwordResets.invalidateForUser(userId, now);
      const ending = await this.o.sessions.endAllSessions(repos, userId, 'password_change', sessionId);
      await record('password.change', ctx, { userId, outcome: 'success' });
      return ending;
    });
    if (!announce) throw new HttpError('WRONG_PASSWORD');
    await announce();
  }

  async list(query: { q?: string; limit: number; offset: number }): Promise<{ users: User[]; total: number }> {
    return this.o.storage.users.list(query);
  }

  /** Admin switch of role / activity. Deactivation ends every session; the last admin stays an admin. */
  async adminUpdate(targetId: number, patch: AdminPatch, ctx: RequestContext & { actorId: number }): Promise<User> {
    const target = await this.o.storage.users.findById(targetId);
    if (!target) throw new HttpError('NOT_FOUND', { detail: 'User not found' });
    const roleChanges = patch.role !== undefined && patch.role !== target.role;
    const activityChanges = patch.isActive !== undefined && patch.isActive !== target.isActive;
    const deactivates = activityChanges && patch.isActive === false;
    // Nothing asked changes anything. An account whose authorisation never changed has nothing to
    // say again; any other goes through below unchanged, its state announced once more — perhaps an
    // earlier attempt was written but never announced (its instance lost Redis mid-change, then
    // stopped), and a retry answered 200 then means every instance knows.
    if (!roleChanges && !activityChanges && target.authzVersion <= 1) return target;
    this.o.revocations.assertReachable();
    const losesAdmin = target.role === 'admin' && target.isActive && ((roleChanges && patch.role !== 'admin') || patch.isActive === false);
    // One transaction: the switch, the sessions and keys a deactivation ends, and the audit events
    // commit together or not at all — never an inactive account whose sessions live on.
    const done = await this.o.audit.transaction(this.o.storage, async (repos, record) => {
      if (losesAdmin) {
        // Counted under the admins' row locks: two admins demoting each other at once leave one.
        await repos.users.lockActiveAdmins();
        if ((await repos.users.countActiveAdmins()) <= 1) throw new HttpError('LAST_ADMIN');
      }
      const now = this.o.now();
      const updated = roleChanges || activityChanges
        ? (await repos.users.update(targetId, {
          ...(roleChanges ? { role: patch.role } : {}),
          ...(activityChanges ? { isActive: patch.isActive } : {}),
        }, now))!
        : target;
      const audit = { userId: targetId, outcome: 'success' as const };
      if (roleChanges) await record('user.role_change', ctx, { ...audit, details: { from: target.role, to: updated.role, by: ctx.actorId } });
      let announceSessions: Announcement | undefined;
      if (!updated.isActive) {
        // Ended for good, and again on a repeated deactivation (nothing is left to end after a whole
        // one): reactivating the account must not bring back a session or a key that may be why it
        // was switched off. The owner makes new ones.
        announceSessions = await this.o.sessions.endAllSessions(repos, targetId, 'deactivated');
        // So do the reset links mailed before: none may set a password once the account is back.
        await repos.passwordResets.invalidateForUser(targetId, now);
        const revoked = await repos.apiKeys.revokeAllForUser(targetId, now);
        if (revoked > 0) await record('apikey.revoke', ctx, { ...audit, details: { count: revoked, reason: 'deactivated', by: ctx.actorId } });
        if (deactivates) await record('user.deactivate', ctx, { ...audit, details: { by: ctx.actorId } });
      }
      return { updated, announceSessions };
    });
    const { updated } = done;
    // Everything durable is committed; now every instance hears of it. Tokens issued before this
    // change carry an older version and follow the user's authorisation as it is now. Both are
    // attempted even if one fails: each one that fails is announced when Redis is back.
    const announced = await Promise.allSettled([
      this.o.revocations.recordAuthorisation(targetId, { version: updated.authzVersion, role: updated.role, active: updated.isActive }),
      done.announceSessions?.(),
    ]);
    for (const outcome of announced) if (outcome.status === 'rejected') throw outcome.reason;
    return updated;
  }
}
