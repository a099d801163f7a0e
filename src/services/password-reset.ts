// Password reset by mail: a single-use token (256 random bits, stored as a keyed hash, 30 minutes)
// mailed as a link to the account's address; confirming it sets a new password and ends every
// session. The request answers the same, in the same time, whether or not the address is known.
import type { PasswordHasher } from '../crypto/passwords.js';
import { keyedHash, randomToken } from '../crypto/secrets.js';
import { HttpError } from '../errors/http-error.js';
import { escapeHtml, type Mailer } from '../mail/index.js';
import type { Storage, User } from '../storage/index.js';
import type { AuditLog } from './audit.js';
import type { Logger, RequestContext } from './context.js';
import type { SessionService } from './sessions.js';
import type { UserService } from './users.js';

const MINUTE = 60_000;
export const RESET_TOKEN_TTL_MS = 30 * MINUTE;
/** Per account: a mailbox (or a victim) is not flooded; over the limit the request still says 202. */
export const RESETS_PER_WINDOW = 3;
export const RESET_WINDOW_MS = 15 * MINUTE;

export interface PasswordResetOptions {
  readonly storage: Storage;
  readonly mailer: Mailer;
  readonly users: Pick<UserService, 'checkPassword'>;
  readonly sessions: Pick<SessionService, 'endAllSessions'>;
  readonly hasher: PasswordHasher;
  readonly audit: AuditLog;
  readonly tokenKey: Buffer;
  /** Origin of the links in the mail (PUBLIC_URL). */
  readonly publicUrl: string;
  readonly log: Logger;
  readonly now: () => number;
}

function invalidToken(): HttpError {
  return new HttpError('INVALID_RESET_TOKEN');
}

export class PasswordResetService {
  /** Mail work still running after its request was answered, per user (so the per-account count cannot race). */
  private readonly pending = new Map<number, Promise<void>>();

  constructor(private readonly o: PasswordResetOptions) {}

  /**
   * The only work done before answering is one lookup by email, the same for known and unknown
   * addresses. Counting, issuing and mailing happen after the answer (OWASP Forgot Password Cheat
   * Sheet: "return a consistent message for both existent and non-existent accounts" and "ensure
   * that responses return in a consistent amount of time"), and a mail failure is only logged.
   */
  async request(email: string, ctx: RequestContext): Promise<void> {
    const user = email.length <= 320 ? await this.o.storage.users.findByEmail(email.trim()) : undefined;
    if (!user || !user.isActive) return;
    const previous = this.pending.get(user.id) ?? Promise.resolve();
    const work = previous.then(() => this.issueAndMail(user, ctx)).catch((err: unknown) => {
      this.o.log.warn({ err: String((err as Error)?.message ?? err), user_id: user.id, request_id: ctx.requestId }, 'password reset mail not sent');
    });
    this.pending.set(user.id, work);
    void work.finally(() => {
      if (this.pending.get(user.id) === work) this.pending.delete(user.id);
    });
  }

  /** Resolves when every mail started so far has been handed over (or failed): for draining and tests. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending.values()]);
  }

  private async issueAndMail(user: User, ctx: RequestContext): Promise<void> {
    const now = this.o.now();
    if ((await this.o.storage.passwordResets.countRecent(user.id, now - RESET_WINDOW_MS)) >= RESETS_PER_WINDOW) {
      this.o.log.info({ user_id: user.id, request_id: ctx.requestId }, 'password reset not sent: per-account limit reached');
      return;
    }
    const token = randomToken();
    await this.o.storage.passwordResets.insert({
      tokenHash: keyedHash(this.o.tokenKey, token), userId: user.id, createdAt: now, expiresAt: now + RESET_TOKEN_TTL_MS,
    });
    const link = `${this.o.publicUrl}/reset-password?token=${encodeURIComponent(token)}`;
    await this.o.mailer.send({
      to: user.email,
      subject: 'Reset your Gatehouse password',
      text: [
        `Hello ${user.username},`, '',
        'Someone (hopefully you) asked to reset the password of your Gatehouse account.',
        'Open this link within 30 minutes to choose a new one; it works once:', '',
        link, '',
        'If you did not ask for this, ignore this mail: your password stays as it is.', '',
      ].join('\n'),
      html: [
        `<p>Hello ${escapeHtml(user.username)},</p>`,
        '<p>Someone (hopefully you) asked to reset the password of your Gatehouse account.',
        'Open this link within 30 minutes to choose a new one; it works once:</p>',
        `<p><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>`,
        '<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>', '',
      ].join('\n'),
    });
    this.o.log.info({ user_id: user.id, request_id: ctx.requestId }, 'password reset mail sent');
  }

  /** The account a token would reset, when the token is unused, unexpired and its account active. */
  private async liveTarget(token: string): Promise<{ tokenHash: string; user: User } | undefined> {
    if (token.length < 20 || token.length > 200) return undefined;
    const tokenHash = keyedHash(this.o.tokenKey, token);
    const stored = await this.o.storage.passwordResets.find(tokenHash);
    if (!stored || stored.usedAt !== null || stored.expiresAt <= this.o.now()) return undefined;
    const user = await this.o.storage.users.findById(stored.userId);
    return user?.isActive ? { tokenHash, user } : undefined;
  }

  /** Whether `confirm` would accept this token now (spends nothing): lets a page say "dead link" before the form. */
  async isLive(token: string): Promise<boolean> {
    return (await this.liveTarget(token)) !== undefined;
  }

  /** Sets the new password with a live token (once); every session of the account ends. */
  async confirm(token: string, newPassword: string, ctx: RequestContext): Promise<void> {
    const target = await this.liveTarget(token);
    if (!target) throw invalidToken();
    const { tokenHash, user } = target;
    const now = this.o.now();
    // The policy is checked before the token is spent: a refused password leaves the link usable.
    this.o.users.checkPassword(newPassword, user, 'new_password');
    const passwordHash = await this.o.hasher.hash(newPassword);
    const used = await this.o.storage.transaction(async (repos) => {
      // Compare-and-set: of two racing confirms with one token, one wins.
      if (!(await repos.passwordResets.consume(tokenHash, this.o.now()))) return false;
      await repos.users.update(user.id, { passwordHash }, now);
      await repos.passwordResets.invalidateForUser(user.id, now);
      return true;
    });
    if (!used) throw invalidToken();
    await this.o.sessions.endAllSessions(user.id, 'password_reset');
    await this.o.audit.record('password.reset', ctx, { userId: user.id, outcome: 'success' });
  }
}
