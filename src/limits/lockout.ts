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
import type { LoginThrottle } from '../services/authentication.js';
import type { RequestContext } from '../services/context.js';
import { block, consume, createLimiter, forget, peek, type Limiter } from './limiters.js';
import type { Redis } from './redis-client.js';

export const FIRST_LOCK_SECONDS = 60;
export const MAX_LOCK_SECONDS = 3600;

export interface LockoutOptions {
  readonly threshold: number;
  readonly windowMinutes: number;
  readonly keyPrefix: string;
  readonly redis?: Redis;
  readonly audit: AuditLog;
}

export class Lockout implements LoginThrottle {
  private readonly failures: Limiter;
  private readonly lockouts: Limiter;

  constructor(private readonly options: LockoutOptions) {
    const window = options.windowMinutes * 60;
    // Sign-in protection fails closed: without Redis the shared count cannot be trusted.
    this.failures = createLimiter({ points: options.threshold, durationSeconds: window, keyPrefix: `${options.keyPrefix}lock:fail`, redis: options.redis, onRedisFailure: 'closed' });
    this.lockouts = createLimiter({ points: 1_000_000, durationSeconds: window, keyPrefix: `${options.keyPrefix}lock:count`, redis: options.redis, onRedisFailure: 'closed' });
  }

  async assertNotLocked(accountKey: string): Promise<void> {
    const state = await peek(this.failures, accountKey);
    if (state && state.consumedPoints > this.options.threshold) {
      const seconds = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
      throw new HttpError('ACCOUNT_LOCKED', {
        headers: {
          'retry-after': String(seconds), 'ratelimit-limit': String(this.options.threshold),
          'ratelimit-remaining': '0', 'ratelimit-reset': String(seconds),
        },
      });
    }
  }

  async recordFailure(accountKey: string, userId: number | null, ctx: RequestContext): Promise<void> {
    const counted = await consume(this.failures, accountKey);
    // Only the failure that reaches the threshold locks. Failures racing past it (a burst sent before
    // the lock landed) are covered by that lock; counting each as a further lockout would escalate
    // one burst to the maximum back-off.
    if (!counted.allowed || counted.remaining > 0) return;
    const lockouts = await consume(this.lockouts, accountKey);
    const lockNumber = lockouts.limit - lockouts.remaining;
    const seconds = Math.min(MAX_LOCK_SECONDS, FIRST_LOCK_SECONDS * 2 ** Math.max(0, lockNumber - 1));
    await block(this.failures, accountKey, seconds);
    await this.options.audit.record('lockout', ctx, { userId, outcome: 'blocked', details: { seconds, lock_number: lockNumber } });
  }

  async recordSuccess(accountKey: string): Promise<void> {
    await forget(this.failures, accountKey);
    await forget(this.lockouts, accountKey);
  }
}
