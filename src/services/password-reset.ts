// Password reset by mail: a single-use token (256 random bits, stored as a keyed hash, 30 minutes)
// mailed as a link to the account's address; confirming it sets a new password and ends every
// session. The request answers the same, in the same time, whether or not the address is known.
import type { PasswordHasher } from '../crypto/passwords.js';
import { keyedHash, randomToken } from '../crypto/secrets.js';
import { HttpError } from '../errors/http-error.js';
import { escapeHtml, type Mailer } from '../mail/index.js';
import type { ResetRequest, Storage, User } from '../storage/index.js';
import type { AuditLog } from './audit.js';
import type { Logger, RequestContext } from './context.js';
import type { SessionService } from './sessions.js';
import type { UserService } from './users.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const RESET_TOKEN_TTL_MS = 30 * MINUTE;
/** Per account: a mailbox (or a victim) is not flooded; over the limit the request still says 202. */
export const RESETS_PER_WINDOW = 3;
export const RESET_WINDOW_MS = 15 * MINUTE;

export interface PasswordResetOptions {
  readonly storage: Storage;
  readonly mailer: Mailer;
  readonly users: Pick<UserService, 'checkPassword'>;
  readonly sessions: Pick<SessionService, 'endAllSessions' | 'assertRevocationsReachable'>;
  readonly hasher: PasswordHasher;
  readonly audit: AuditLog;
  readonly tokenKey: Buffer;
  /** Origin of the links in the mail (PUBLIC_URL). */
  readonly publicUrl: string;
  readonly log: Logger;
  readonly now: () => number;
  /** False in a one-off command: requests are recorded, a serving process mails them. */
  readonly worker?: boolean;
  /** Tests: shorter pauses between attempts and polls. */
  readonly retryDelaysMs?: readonly number[];
  readonly pollMs?: number;
}

function invalidToken(): HttpError {
  return new HttpError('INVALID_RESET_TOKEN');
}

/** How long one attempt holds a request; then another instance may take it over (longer than an SMTP send may take). */
const ATTEMPT_LEASE_MS = 60_000;
/** Pauses between attempts while mail cannot be sent; past the token's lifetime a request is dropped. */
const RETRY_DELAYS_MS = [2_000, 5_000, 10_000, 30_000, 60_000];
/** How often unfinished requests are looked for (retries due, requests another instance left behind). */
const POLL_MS = 2_000;

export class PasswordResetService {
  private running: Promise<void> | undefined;
  private again = false;
  private failing = false;
  private prunedAt = 0;
  private closed = false;
  private readonly poll: NodeJS.Timeout | undefined;

  constructor(private readonly o: PasswordResetOptions) {
    this.closed = o.worker === false;
    if (this.closed) return;
    this.poll = setInterval(() => this.kick(), o.pollMs ?? POLL_MS);
    this.poll.unref();
  }

  /**
   * Records the request, whether or not the address is known (one lookup and one write either
   * way: OWASP Forgot Password Cheat Sheet, "return a consistent message for both existent and
   * non-existent accounts" and "ensure that responses return in a consistent amount of time"),
   * and only then answers 202. Counting, issuing and mailing happen after the answer, from the
   * record: a process that dies right after the 202, or a mail server that is down, delays the
   * mail but never loses it (contract: nothing acknowledged is lost across a restart).
   */
  async request(email: string, ctx: RequestContext): Promise<void> {
    const user = email.length <= 320 ? await this.o.storage.users.findByEmail(email.trim()) : undefined;
    await this.o.storage.resetRequests.record({ userId: user?.isActive ? user.id : null, requestId: ctx.requestId, createdAt: this.o.now() });
    this.kick();
  }

  /**
   * Requests another process was working on when it died: on one box (SQLite) no other process is
   * working on them, so they are taken up at once instead of after their lease.
   */
  async resumeAbandoned(): Promise<void> {
    if (this.closed) return;
    await this.o.storage.resetRequests.releaseAll(this.o.now());
    this.kick();
  }

  /** Resolves when no request is being worked on: for draining and tests. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.poll);
  }

  /** Works through what is due, one request at a time (so the per-account count cannot race here). */
  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.workThrough().then(() => {
      this.failing = false;
    }, (err: unknown) => {
      // The database is away: the requests wait, recorded, for the next poll (said once per outage).
      if (!this.failing) this.o.log.warn({ err: String((err as Error)?.message ?? err) }, 'password reset requests not processed; will retry');
      this.failing = true;
    }).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async workThrough(): Promise<void> {
    // Finished requests are kept a day (for an operator asking "was it sent?"), then forgotten.
    if (this.o.now() - this.prunedAt > HOUR) {
      this.prunedAt = this.o.now();
      await this.o.storage.resetRequests.pruneFinished(this.prunedAt - 24 * HOUR);
    }
    // Closing stops taking new work; the request under way finishes (the drain waits for it).
    while (!this.closed) {
      const due = await this.o.storage.resetRequests.due(this.o.now(), 20);
      if (due.length === 0) return;
      for (const request of due) {
        if (this.closed) return;
        await this.attempt(request);
      }
    }
  }

  private async attempt(request: ResetRequest): Promise<void> {
    const { resetRequests } = this.o.storage;
    const now = this.o.now();
    if (!(await resetRequests.claim(request, now + ATTEMPT_LEASE_MS))) return;
    const user = request.userId === null ? undefined : await this.o.storage.users.findById(request.userId);
    if (!user || !user.isActive) return resetRequests.finish(request.id, now);
    if (now - request.createdAt > RESET_TOKEN_TTL_MS) {
      this.o.log.warn({ user_id: user.id, request_id: request.requestId }, 'password reset mail dropped: not sent within the token lifetime');
      return resetRequests.finish(request.id, now);
    }
    try {
      await this.issueAndMail(user, request.requestId);
    } catch (err) {
      const delays = this.o.retryDelaysMs ?? RETRY_DELAYS_MS;
      const delay = delays[Math.min(request.attempts, delays.length - 1)]!;
      this.o.log.warn({ err: String((err as Error)?.message ?? err), user_id: user.id, request_id: request.requestId, retry_in_ms: delay }, 'password reset mail not sent');
      return resetRequests.retryAt(request.id, this.o.now() + delay);
    }
    await this.markSent(request);
  }

  /**
   * The mail is out: recorded as done, or it would go again once the lease ends. A write refused for
   * a moment (SQLite locked by a backup, a PostgreSQL blip) is tried again for half the lease.
   */
  private async markSent(request: ResetRequest): Promise<void> {
    const until = this.o.now() + ATTEMPT_LEASE_MS / 2;
    for (;;) {
      try {
        return await this.o.storage.resetRequests.finish(request.id, this.o.now());
      } catch (err) {
        if (this.closed || this.o.now() >= until) throw err;
        this.o.log.info({ request_id: request.requestId, err: String((err as Error)?.message ?? err) }, 'password reset mail sent; recording it waits for the database');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  private async issueAndMail(user: User, requestId: string | null): Promise<void> {
    const now = this.o.now();
    if ((await this.o.storage.passwordResets.countRecent(user.id, now - RESET_WINDOW_MS)) >= RESETS_PER_WINDOW) {
      this.o.log.info({ user_id: user.id, request_id: requestId }, 'password reset not sent: per-account limit reached');
      return;
    }
    const token = randomToken();
    const tokenHash = keyedHash(this.o.tokenKey, token);
    await this.o.storage.passwordResets.insert({ tokenHash, userId: user.id, createdAt: now, expiresAt: now + RESET_TOKEN_TTL_MS });
    const link = `${this.o.publicUrl}/reset-password?token=${encodeURIComponent(token)}`;
    try {
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
    } catch (err) {
      // A link that never left must not count toward the per-account limit of the retries.
      await this.o.storage.passwordResets.remove(tokenHash).catch(() => undefined);
      throw err;
    }
    this.o.log.info({ user_id: user.id, request_id: requestId }, 'password reset mail sent');
  }

  /** Whether `confirm` would accept this token now (spends nothing): lets a page say "dead link" before the form. */
  async isLive(token: string): Promise<boolean> {
    return (await this.liveTarget(token)) !== undefined;
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

  /** Sets the new password with a live token (once); every session of the account ends. */
  async confirm(token: string, newPassword: string, ctx: RequestContext): Promise<void> {
    const target = await this.liveTarget(token);
    if (!target) throw invalidToken();
    const { tokenHash, user } = target;
    const now = this.o.now();
    // The policy is checked before the token is spent: a refused password leaves the link usable.
    this.o.users.checkPassword(newPassword, user, 'new_password');
    // So is the reach of the revocations: during an outage the link stays usable, and nothing changes.
    this.o.sessions.assertRevocationsReachable();
    const passwordHash = await this.o.hasher.hash(newPassword);
    // One transaction: the token spent, the new password, every session ended and the audit event
    // commit together, or none does — a crash in between must not leave a thief's session alive.
    const announce = await this.o.audit.transaction(this.o.storage, async (repos, record) => {
      // Compare-and-set: of two racing confirms with one token, one wins.
      if (!(await repos.passwordResets.consume(tokenHash, this.o.now()))) return undefined;
      await repos.users.update(user.id, { passwordHash }, now);
      await repos.passwordResets.invalidateForUser(user.id, now);
      const ending = await this.o.sessions.endAllSessions(repos, user.id, 'password_reset');
      await record('password.reset', ctx, { userId: user.id, outcome: 'success' });
      return ending;
    });
    if (!announce) throw invalidToken();
    await announce();
  }
}
