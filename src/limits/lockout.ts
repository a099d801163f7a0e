// Account lockout: failed sign-ins are counted per account across every IP. The failure that
// reaches LOCKOUT_THRESHOLD within LOCKOUT_WINDOW_MINUTES locks the account for 60 s, doubling with
// each further lockout inside the window (capped), during which every sign-in for it is 429 —
// right password or not, any IP, any sign-in route.
//
// Trade-off (OWASP Authentication Cheat Sheet, "account lockout"): anyone can lock a known account by
// failing on purpose. The lock is short and bounded (60 s, 120 s, … at most MAX_LOCK_SECONDS) rather
// than until an admin acts, and the per-IP auth budget limits how fast one source can re-lock it,
// so a targeted account is slowed, never shut out for good; a password-guessing attacker gets
// ~THRESHOLD guesses per lock period instead of thousands.
import { HttpError } from '../errors/http-error.js';
import type { AuditLog } from '../services/audit.js';
import type { AuditEvent } from '../storage/index.js';
import type { LoginAttempt, LoginThrottle } from '../services/authentication.js';
import type { RequestContext } from '../services/context.js';
import { block, consume, createLimiter, forget, peek, type Limiter } from './limiters.js';
import type { Redis } from './redis-client.js';

export const FIRST_LOCK_SECONDS = 60;

/** The count's key of a known account (a name matching none is keyed by its hash: services/authentication.ts). */
export function userAccountKey(userId: number): string {
  return `user:${userId}`;
}
/** The audit actions a lockout's state is rebuilt from (see Lockout.restore). */
export const LOCKOUT_EVENTS = ['login.failure', 'login.success', 'lockout', 'mfa.enable', 'mfa.disable'] as const;
export const MAX_LOCK_SECONDS = 3600;

export interface LockoutOptions {
  readonly threshold: number;
  readonly windowMinutes: number;
  readonly keyPrefix: string;
  readonly redis?: Redis;
  readonly audit: AuditLog;
  /** Awaited before every sign-in is judged: rejects while the counts may be incomplete (lockout-recovery.ts). */
  readonly countsWhole?: () => Promise<void>;
}

/**
 * Every outcome is judged when it is known, not only when the attempt began: an attempt checked
 * before a slow argon2 verify would otherwise pass with a whole burst sent at once, and hundreds
 * of guesses would be verified where LOCKOUT_THRESHOLD were allowed. So once the lock has landed,
 * an attempt that finishes — right password or wrong, begun before the lock or after — answers
 * 429 like every other: the guesses answered for what they are (401, or tokens) are only those
 * that finished before the threshold was reached, and a burst cannot tell its right guess from its
 * wrong ones by the answers. Parallel sign-ins with the right password are not held back at all.
 */
export class Lockout implements LoginThrottle {
  private readonly failures: Limiter;
  private readonly lockouts: Limiter;

  constructor(private readonly options: LockoutOptions) {
    const window = options.windowMinutes * 60;
    // Sign-in protection fails closed: without Redis the shared count cannot be trusted.
    const limiter = (name: string, points: number) =>
      createLimiter({ points, durationSeconds: window, keyPrefix: `${options.keyPrefix}lock:${name}`, redis: options.redis, onRedisFailure: 'closed' });
    this.failures = limiter('fail', options.threshold);
    this.lockouts = limiter('count', 1_000_000);
  }

  async begin(accountKey: string, userId: number | null, ctx: RequestContext): Promise<LoginAttempt> {
    await this.options.countsWhole?.();
    await this.refuseIfLocked(accountKey, userId, ctx);
    return {
      failed: async (record) => {
        const counted = await consume(this.failures, accountKey);
        // Past the threshold: the lock came first; its time is what the count reports.
        if (!counted.allowed) return this.refuse(counted.resetSeconds, userId, ctx);
        try {
          await record?.();
        } finally {
          // The failure that reaches the threshold is still answered as itself, and locks (even if
          // its audit line could not be written: the lock must not be lost with it).
          if (counted.remaining === 0) await this.lock(accountKey, userId, ctx);
        }
      },
      succeeded: async () => {
        // A right password that finishes once the threshold is reached is refused like a wrong one.
        await this.refuseIfLocked(accountKey, userId, ctx);
        // The failures start again; the lockouts of this window still count (CONTRACT: the lock
        // doubles "with each further lockout inside the window"), or an attacker whose target keeps
        // signing in between would get a fresh 60 s lock, and THRESHOLD more guesses, every minute.
        await forget(this.failures, accountKey);
      },
    };
  }

  /**
   * In-process counts die with the process: without Redis a restart would hand every locked account
   * back and every attacker a fresh set of guesses. So at start they are rebuilt from the audit log,
   * which records each counted failure, each lock and each success of known accounts (names that
   * match no account are not in it by name: theirs start afresh). Counts rebuilt this way may last
   * up to a window longer than the originals, never shorter.
   */
  async restore(events: readonly AuditEvent[], now: number): Promise<void> {
    const windowMs = this.options.windowMinutes * 60_000;
    const byUser = new Map<number, { failures: number; firstFailure: number; lockedUntil: number; lockouts: number; firstLockout: number }>();
    for (const event of events) {
      const state = byUser.get(event.userId!) ?? { failures: 0, firstFailure: 0, lockedUntil: 0, lockouts: 0, firstLockout: 0 };
      byUser.set(event.userId!, state);
      if (event.action === 'login.success') {
        // As `succeeded`: the failures start again, the window's lockouts still count.
        Object.assign(state, { failures: 0, lockedUntil: 0 });
      } else if (event.action === 'lockout') {
        const seconds = Number(event.details?.seconds ?? FIRST_LOCK_SECONDS);
        // The lock replaces the count; failures start again once it ends.
        Object.assign(state, { failures: 0, lockedUntil: event.time + seconds * 1000 });
        if (state.lockouts === 0) state.firstLockout = event.time;
        state.lockouts += 1;
      } else if (event.outcome === 'failure' && event.details?.reason !== 'inactive') {
        if (state.failures === 0) state.firstFailure = event.time;
        state.failures += 1;
      }
    }
    const secondsUntil = (time: number) => Math.max(1, Math.ceil((time - now) / 1000));
    for (const [userId, state] of byUser) {
      const key = userAccountKey(userId);
      if (state.lockedUntil > now) await block(this.failures, key, secondsUntil(state.lockedUntil));
      else if (state.failures > 0) await this.failures.set(key, Math.min(state.failures, this.options.threshold - 1), secondsUntil(state.firstFailure + windowMs));
      if (state.lockouts > 0) await this.lockouts.set(key, state.lockouts, secondsUntil(state.firstLockout + windowMs));
    }
  }

  /** 429 while the account is locked: the threshold of failures reached (the lock lands on the failure that reaches it). */
  private async refuseIfLocked(accountKey: string, userId: number | null, ctx: RequestContext): Promise<void> {
    const state = await peek(this.failures, accountKey);
    if ((state?.consumedPoints ?? 0) < this.options.threshold) return;
    return this.refuse(Math.max(1, Math.ceil(state!.msBeforeNext / 1000)), userId, ctx);
  }

  /** Every refusal is audited (`login.failure`, outcome `blocked`), so an attack stays visible. */
  private async refuse(seconds: number, userId: number | null, ctx: RequestContext): Promise<never> {
    const { threshold } = this.options;
    await this.options.audit.record('login.failure', ctx, { userId, outcome: 'blocked', details: { reason: 'locked' } });
    throw new HttpError('ACCOUNT_LOCKED', {
      headers: {
        'retry-after': String(seconds), 'ratelimit-limit': String(threshold),
        'ratelimit-remaining': '0', 'ratelimit-reset': String(seconds),
      },
    });
  }

  private async lock(accountKey: string, userId: number | null, ctx: RequestContext): Promise<void> {
    const lockouts = await consume(this.lockouts, accountKey);
    const lockNumber = lockouts.limit - lockouts.remaining;
    const seconds = Math.min(MAX_LOCK_SECONDS, FIRST_LOCK_SECONDS * 2 ** Math.max(0, lockNumber - 1));
    await block(this.failures, accountKey, seconds);
    await this.options.audit.record('lockout', ctx, { userId, outcome: 'blocked', details: { seconds, lock_number: lockNumber } });
  }
}
