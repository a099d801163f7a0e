// The lockout on its own (src/limits/lockout.ts), on memory and Redis: 60 s, doubling per further
// lockout inside the window, never more than MAX_LOCK_SECONDS; the lock time it reports is what the
// store holds; a success clears both the failures and the lockout count; and outcomes judged when
// they are known: an attempt that finishes after the lock is refused, right password or not.

const failOnce = async (lockout: Lockout, key: string, userId: number, context = ctx) => (await lockout.begin(key, userId, context)).failed();
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HttpError } from '../../src/errors/http-error.js';
import { FIRST_LOCK_SECONDS, Lockout, MAX_LOCK_SECONDS } from '../../src/limits/lockout.js';
import { AuditLog } from '../../src/services/audit.js';
import type { RequestContext } from '../../src/services/context.js';
import { openSqlite, type TestStorage } from '../helpers/databases.js';
import { productRedisFor, stateBackends, uniquePrefix, until } from '../helpers/redis.js';

const ctx: RequestContext = { ip: '192.0.2.1', userAgent: 'unit', requestId: 'req-1', receivedAt: 0 };
const silent = { info: () => undefined, warn: () => undefined };

/** The Retry-After the lockout answers while locked, or undefined when an attempt may begin. */
async function lockSeconds(lockout: Lockout, key: string): Promise<number | undefined> {
  try {
    await lockout.begin(key, null, ctx);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ code: 'ACCOUNT_LOCKED', status: 429 });
    return Number((err as HttpError).headers['retry-after']);
  }
}

for (const backend of stateBackends) {
  describe.skipIf(!backend.available)(`lockout back-off on ${backend.name}`, () => {
    const prefix = uniquePrefix('lku');
    let storage: TestStorage;
    const redisOf = productRedisFor(backend, prefix);
    let audit: AuditLog;
    beforeAll(async () => {
      storage = await openSqlite();
      audit = new AuditLog(storage.audit, silent, () => Date.now());
    });
    afterAll(async () => {
      await storage?.close();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Ends the current lock as time would: fake timers on memory; Redis expiring the key on Redis. */
    async function expire(lockoutPrefix: string, key: string, seconds: number): Promise<void> {
      const redis = redisOf();
      if (!redis) {
        vi.advanceTimersByTime(seconds * 1000 + 100);
        return;
      }
      const lockKey = `${lockoutPrefix}lock:fail:${key}`;
      const pttl = await redis.pttl(lockKey);
      expect(pttl).toBeGreaterThan((seconds - 5) * 1000);
      expect(pttl).toBeLessThanOrEqual(seconds * 1000);
      await redis.pexpire(lockKey, 1);
      await until(() => redis!.exists(lockKey), (n) => n === 0, 2000, 'lock key expired');
    }

    it(`doubles from ${FIRST_LOCK_SECONDS} s per lockout in the window and stops at ${MAX_LOCK_SECONDS} s`, async () => {
      const redis = redisOf();
      if (!redis) vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      // A day-long window and a threshold of 1, so the cap is reachable inside one window.
      const lockout = new Lockout({ threshold: 1, windowMinutes: 24 * 60, keyPrefix: `${prefix}cap:`, redis, audit });
      const seen: number[] = [];
      for (let i = 0; i < 8; i++) {
        expect(await lockSeconds(lockout, 'user:1')).toBeUndefined();
        await failOnce(lockout, 'user:1', 1, ctx);
        const seconds = (await lockSeconds(lockout, 'user:1'))!;
        seen.push(seconds);
        await expire(`${prefix}cap:`, 'user:1', seconds);
      }
      expect(seen).toEqual([60, 120, 240, 480, 960, 1920, 3600, 3600]);
    });

    it('a success clears the failures, not the window\'s lockouts: the next lock inside the window still doubles', async () => {
      const redis = redisOf();
      if (!redis) vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      const lockout = new Lockout({ threshold: 2, windowMinutes: 60, keyPrefix: `${prefix}reset:`, redis, audit });
      for (const expected of [60, 120]) {
        await failOnce(lockout, 'user:2', 2, ctx);
        expect(await lockSeconds(lockout, 'user:2')).toBeUndefined();
        await failOnce(lockout, 'user:2', 2, ctx);
        expect(await lockSeconds(lockout, 'user:2')).toBe(expected);
        await expire(`${prefix}reset:`, 'user:2', expected);
      }
      await (await lockout.begin('user:2', 2, ctx)).succeeded();
      // The failures start again: one is not yet a lock…
      await failOnce(lockout, 'user:2', 2, ctx);
      expect(await lockSeconds(lockout, 'user:2')).toBeUndefined();
      // …and the lock it takes is the window's third: 240 s.
      await failOnce(lockout, 'user:2', 2, ctx);
      expect(await lockSeconds(lockout, 'user:2')).toBe(240);
    });

    it('attempts begun before the lock but finishing after it are refused, right or wrong: no oracle in a burst', async () => {
      const lockout = new Lockout({ threshold: 3, windowMinutes: 60, keyPrefix: `${prefix}burst:`, redis: redisOf(), audit });
      // A burst: every attempt begins before any of them has failed.
      const attempts = await Promise.all(Array.from({ length: 8 }, () => lockout.begin('user:5', 5, ctx)));
      const outcome = (p: Promise<void>) => p.then(() => 'answered', (e: unknown) => (e as { code?: string }).code);
      // The first three failures are answered as failures; the third locks.
      expect(await Promise.all(attempts.slice(0, 3).map((a) => outcome(a.failed())))).toEqual(['answered', 'answered', 'answered']);
      // The rest finish after the lock: a wrong guess and the right one get the same 429.
      expect(await outcome(attempts[3]!.failed())).toBe('ACCOUNT_LOCKED');
      expect(await outcome(attempts[4]!.succeeded())).toBe('ACCOUNT_LOCKED');
      expect(await lockSeconds(lockout, 'user:5')).toBe(60);
      const refused = await audit.list({ limit: 100, offset: 0, userId: 5, action: 'login.failure' });
      expect(refused.events.filter((e) => e.outcome === 'blocked')).toHaveLength(2);
    });

    it('sign-ins with the right password at once are not held back, and a success clears the count', async () => {
      const lockout = new Lockout({ threshold: 2, windowMinutes: 60, keyPrefix: `${prefix}many:`, redis: redisOf(), audit });
      await failOnce(lockout, 'user:6', 6);
      const attempts = await Promise.all(Array.from({ length: 10 }, () => lockout.begin('user:6', 6, ctx)));
      await Promise.all(attempts.map((a) => a.succeeded()));
      // One failure after the successes does not lock (the count started again).
      await failOnce(lockout, 'user:6', 6);
      expect(await lockSeconds(lockout, 'user:6')).toBeUndefined();
    });

    it('each lockout is audited with its length and number', async () => {
      const lockout = new Lockout({ threshold: 1, windowMinutes: 60, keyPrefix: `${prefix}audit:`, redis: redisOf(), audit });
      await failOnce(lockout, 'user:77', 77, ctx);
      const { events } = await audit.list({ limit: 10, offset: 0, userId: 77, action: 'lockout' });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'lockout', userId: 77, ip: '192.0.2.1', userAgent: 'unit', requestId: 'req-1', outcome: 'blocked', details: { seconds: 60, lock_number: 1 } });
    });
  });
}
