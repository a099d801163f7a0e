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
import type { LoginAttempt, LoginThrottle } from '../services/authentication.js';
import type { RequestContext } from '../services/context.js';
import { block, consume, createLimiter, forget, peek, refund, type Limiter } from './limiters.js';
import type { Redis } from './redis-client.js';

export const FIRST_LOCK_SECONDS = 60;
export const MAX_LOCK_SECONDS = 3600;
/**
 * How long an admitted attempt holds its place at most. An attempt ends within seconds (one argon2
 * verify); this only bounds what a process that died mid-attempt leaves counted.
 */
const IN_FLIGHT_SECONDS = 60;

export interface LockoutOptions {
  readonly threshold: number;
  readonly windowMinutes: number;
  readonly keyPrefix: string;
  readonly redis?: Redis;
  readonly audit: AuditLog;
}

function refused(seconds: number, threshold: number): HttpError {
  return new HttpError('ACCOUNT_LOCKED', {
    headers: {
      'retry-after': String(seconds), 'ratelimit-limit': String(threshold),
      'ratelimit-remaining': '0', 'ratelimit-reset': String(seconds),
    },
  });
}

/**
 * Admission: an attempt first takes a place among the account's attempts in flight (an atomic
 * increment, shared through Redis), then reads the failures; it is admitted only if the failures
 * so far plus the attempts in flight (itself included) stay within the threshold. A failure is
 * counted before its place is given back, so at every moment failures + places in flight bound
 * what can still be tried: a burst of any size gets at most LOCKOUT_THRESHOLD verifications.
 */
export class Lockout implements LoginThrottle {
  private readonly failures: Limiter;
  private readonly lockouts: Limiter;
  private readonly inFlight: Limiter;

  constructor(private readonly options: LockoutOptions) {
    const window = options.windowMinutes * 60;
    // Sign-in protection fails closed: without Redis the shared count cannot be trusted.
    const limiter = (name: string, points: number, durationSeconds: number) =>
      createLimiter({ points, durationSeconds, keyPrefix: `${options.keyPrefix}lock:${name}`, redis: options.redis, onRedisFailure: 'closed' });
    this.failures = limiter('fail', options.threshold, window);
    this.lockouts = limiter('count', 1_000_000, window);
    this.inFlight = limiter('busy', 1_000_000, IN_FLIGHT_SECONDS);
  }

  async begin(accountKey: string, userId: number | null, ctx: RequestContext): Promise<LoginAttempt> {
    const { threshold } = this.options;
    const place = await consume(this.inFlight, accountKey);
    const inFlight = place.limit - place.remaining;
    let state;
    try {
      state = await peek(this.failures, accountKey);
    } catch (err) {
      await this.release(accountKey);
      throw err;
    }
    const failures = state?.consumedPoints ?? 0;
    if (failures > threshold || failures + inFlight > threshold) {
      await this.release(accountKey);
      // Locked: the lock's own time. Full of attempts in flight: they end within a second or so.
      const seconds = failures > threshold ? Math.max(1, Math.ceil(state!.msBeforeNext / 1000)) : 1;
      await this.options.audit.record('login.failure', ctx, { userId, outcome: 'blocked', details: { reason: 'locked' } });
      throw refused(seconds, threshold);
    }
    let ended = false;
    const end = async (): Promise<void> => {
      if (ended) return;
      ended = true;
      await this.release(accountKey);
    };
    return {
      failed: async () => {
        if (ended) return;
        try {
          await this.countFailure(accountKey, userId, ctx);
        } finally {
          await end();
        }
      },
      succeeded: async () => {
        if (ended) return;
        try {
          await forget(this.failures, accountKey);
          await forget(this.lockouts, accountKey);
        } finally {
          await end();
        }
      },
      end,
    };
  }

  /** Gives an attempt's place back; a store failure here only leaves it counted until IN_FLIGHT_SECONDS. */
  private async release(accountKey: string): Promise<void> {
    await refund(this.inFlight, accountKey).catch(() => undefined);
  }

  private async countFailure(accountKey: string, userId: number | null, ctx: RequestContext): Promise<void> {
    const counted = await consume(this.failures, accountKey);
    // Only the failure that reaches the threshold locks (admission keeps the others from passing it).
    if (!counted.allowed || counted.remaining > 0) return;
    const lockouts = await consume(this.lockouts, accountKey);
    const lockNumber = lockouts.limit - lockouts.remaining;
    const seconds = Math.min(MAX_LOCK_SECONDS, FIRST_LOCK_SECONDS * 2 ** Math.max(0, lockNumber - 1));
    await block(this.failures, accountKey, seconds);
    await this.options.audit.record('lockout', ctx, { userId, outcome: 'blocked', details: { seconds, lock_number: lockNumber } });
  }
}
