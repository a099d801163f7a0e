// The fixed-window counters behind every budget and the lockout (src/limits/limiters.ts), on memory
// and on real Redis with the same bodies: consume / peek / forget / block, the headers, and what a
// Redis failure does: the 'memory' policy falls back to this process's own counter, the 'closed'
// policy refuses with the catalogue's 503 (never a hang, never the library's error).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../../src/errors/http-error.js';
import { block, consume, createLimiter, forget, limitHeaders, peek, type Limiter, type LimiterOptions } from '../../src/limits/limiters.js';
import { createRedis, type Redis } from '../../src/limits/redis-client.js';
import { dropPrefix, productRedisFor, proxiedRedis, redisAvailable, redisConnection, stateBackends, uniquePrefix, until } from '../helpers/redis.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';

for (const backend of stateBackends) {
  describe.skipIf(!backend.available)(`fixed-window limiter on ${backend.name}`, () => {
    const prefix = uniquePrefix('lim');
    const redisOf = productRedisFor(backend, prefix);
    let n = 0;
    const make = (points: number, durationSeconds = 60, onRedisFailure: LimiterOptions['onRedisFailure'] = 'closed'): Limiter =>
      createLimiter({ points, durationSeconds, keyPrefix: `${prefix}l${++n}`, redis: redisOf(), onRedisFailure });

    it('allows N in the window and refuses the (N+1)-th, counting down Remaining', async () => {
      const limiter = make(3);
      const decisions = [];
      for (let i = 0; i < 4; i++) decisions.push(await consume(limiter, 'k'));
      expect(decisions.map((d) => [d.allowed, d.limit, d.remaining])).toEqual([[true, 3, 2], [true, 3, 1], [true, 3, 0], [false, 3, 0]]);
      for (const d of decisions) {
        expect(d.resetSeconds).toBeGreaterThanOrEqual(1);
        expect(d.resetSeconds).toBeLessThanOrEqual(60);
      }
      // Another key is another budget.
      expect(await consume(limiter, 'other')).toMatchObject({ allowed: true, remaining: 2 });
    });

    it('limitHeaders are bare integers', async () => {
      const limiter = make(2, 30);
      await consume(limiter, 'k');
      const headers = limitHeaders(await consume(limiter, 'k'));
      expect(headers).toEqual({ 'ratelimit-limit': '2', 'ratelimit-remaining': '0', 'ratelimit-reset': expect.stringMatching(/^\d+$/) });
      expect(Number(headers['ratelimit-reset'])).toBeGreaterThanOrEqual(1);
      expect(Number(headers['ratelimit-reset'])).toBeLessThanOrEqual(30);
    });

    it('peek reads without counting; forget clears; block refuses for the given seconds', async () => {
      const limiter = make(5, 900);
      expect(await peek(limiter, 'acct')).toBeUndefined();
      await consume(limiter, 'acct');
      await consume(limiter, 'acct');
      const seen = await peek(limiter, 'acct');
      expect(seen?.consumedPoints).toBe(2);
      expect((await peek(limiter, 'acct'))?.consumedPoints).toBe(2);
      await forget(limiter, 'acct');
      expect(await peek(limiter, 'acct')).toBeUndefined();

      await block(limiter, 'acct', 60);
      const blocked = await peek(limiter, 'acct');
      expect(blocked!.consumedPoints).toBeGreaterThan(5);
      expect(blocked!.msBeforeNext).toBeGreaterThan(55_000);
      expect(blocked!.msBeforeNext).toBeLessThanOrEqual(60_000);
      expect(await consume(limiter, 'acct')).toMatchObject({ allowed: false, remaining: 0 });
    });

    if (backend.name === 'redis') {
      it('keeps its counters in Redis under the prefix, each with the window as its TTL', async () => {
        const limiter = make(3, 60);
        await consume(limiter, 'ttl-key');
        const key = `${prefix}l${n}:ttl-key`;
        expect(await redisOf()!.get(key)).toBe('1');
        const pttl = await redisOf()!.pttl(key);
        expect(pttl).toBeGreaterThan(55_000);
        expect(pttl).toBeLessThanOrEqual(60_000);
        await block(limiter, 'blocked-key', 120);
        const blocked = await redisOf()!.pttl(`${prefix}l${n}:blocked-key`);
        expect(blocked).toBeGreaterThan(115_000);
        expect(blocked).toBeLessThanOrEqual(120_000);
      });

      it('two limiters on one Redis prefix (two instances) share one count', async () => {
        const other = createRedis(process.env.TEST_REDIS_URL!);
        try {
          await until(async () => other.status, (s) => s === 'ready', 5000, 'second connection ready');
          const keyPrefix = `${prefix}shared`;
          const a = createLimiter({ points: 4, durationSeconds: 60, keyPrefix, redis: redisOf(), onRedisFailure: 'closed' });
          const b = createLimiter({ points: 4, durationSeconds: 60, keyPrefix, redis: other, onRedisFailure: 'closed' });
          const allowed = [];
          for (let i = 0; i < 6; i++) allowed.push((await consume(i % 2 ? b : a, 'ip')).allowed);
          expect(allowed).toEqual([true, true, true, true, false, false]);
        } finally {
          other.disconnect();
        }
      });
    }
  });
}

describe.skipIf(!redisAvailable)('limiter while Redis is away (TCP proxy cut)', () => {
  const prefix = uniquePrefix('limdown');
  let proxy: TcpProxy;
  let redis: Redis;
  beforeAll(async () => {
    const proxied = await proxiedRedis();
    proxy = proxied.proxy;
    redis = createRedis(proxied.url);
    await until(async () => redis.status, (s) => s === 'ready', 5000, 'redis ready through the proxy');
  });
  afterAll(async () => {
    redis?.disconnect();
    await proxy?.close();
    const inspect = redisConnection();
    await dropPrefix(inspect, prefix);
    inspect.disconnect();
  });

  for (const mode of ['refuse', 'blackhole'] as const) {
    it(`${mode}: 'closed' refuses with a 503 ServiceUnavailableError in under 5 s; 'memory' counts in-process; both resume on Redis`, async () => {
      const closed = createLimiter({ points: 2, durationSeconds: 60, keyPrefix: `${prefix}${mode}c`, redis, onRedisFailure: 'closed' });
      const open = createLimiter({ points: 2, durationSeconds: 60, keyPrefix: `${prefix}${mode}m`, redis, onRedisFailure: 'memory' });
      expect((await consume(closed, 'ip')).allowed).toBe(true);
      await proxy.cut(mode);
      try {
        for (const op of [() => consume(closed, 'ip'), () => peek(closed, 'ip'), () => forget(closed, 'ip'), () => block(closed, 'ip', 60)]) {
          const started = performance.now();
          const err = await op().then(() => expect.unreachable('a closed limiter must refuse while Redis is away'), (e: unknown) => e);
          expect(performance.now() - started).toBeLessThan(5000);
          expect(err).toBeInstanceOf(ServiceUnavailableError);
          expect(err).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE', dependency: 'redis' });
        }
        // The in-process fallback still enforces the budget (per instance).
        const fallback = [];
        for (let i = 0; i < 3; i++) fallback.push((await consume(open, 'ip')).allowed);
        expect(fallback).toEqual([true, true, false]);
      } finally {
        await proxy.restore();
      }
      // Back on Redis: the closed limiter's count from before the outage is still there.
      const { value } = await until(() => consume(closed, 'ip').catch(() => undefined), (d) => d !== undefined, 10_000, 'limiter back on Redis');
      expect(value).toMatchObject({ allowed: true, remaining: 0 });
    });
  }
});
