// The product's Redis connection (src/limits/redis-client.ts): an unanswered command fails within
// about a second (never a hang), but a reply that arrived while this process was stalled — a long
// GC pause, a starved CPU — is taken, not thrown away by a timer that merely ran late.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consume, createLimiter } from '../../src/limits/limiters.js';
import { createRedis, type Redis } from '../../src/limits/redis-client.js';
import { dropPrefix, proxiedRedis, redisAvailable, redisConnection, redisUrl, uniquePrefix, until } from '../helpers/redis.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';

/** Keeps the event loop busy, as a long GC pause or a starved CPU would. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe.skipIf(!redisAvailable)('the product Redis connection', () => {
  const prefix = uniquePrefix('client');
  let redis: Redis;
  let proxied: Redis;
  let proxy: TcpProxy;

  beforeAll(async () => {
    redis = createRedis(redisUrl!);
    const through = await proxiedRedis();
    proxy = through.proxy;
    proxied = createRedis(through.url);
    await until(async () => [redis.status, proxied.status], (s) => s.every((x) => x === 'ready'), 5000, 'both connections ready');
  });
  afterAll(async () => {
    redis?.disconnect();
    proxied?.disconnect();
    await proxy?.close();
    const inspect = redisConnection();
    await dropPrefix(inspect, prefix);
    inspect.disconnect();
  });

  it('a stall longer than the command timeout does not fail commands whose replies arrived meanwhile', async () => {
    const limiter = createLimiter({ points: 5, durationSeconds: 60, keyPrefix: `${prefix}lim`, redis, onRedisFailure: 'closed' });
    // From the check phase, as a request's work after an I/O callback: the next loop turn runs its
    // timers before it polls the sockets (from inside a timer callback the late timer would not fire).
    await new Promise((resolve) => setImmediate(resolve));
    // Sent now (a plain command, a MULTI and the limiter's script); their replies land while we spin.
    const plain = redis.set(`${prefix}k`, 'v', 'PX', 60_000);
    const multi = redis.multi().incr(`${prefix}n`).pexpire(`${prefix}n`, 60_000).exec();
    const counted = consume(limiter, 'ip');
    stall(1600);
    expect(await plain).toBe('OK');
    expect((await multi)?.map(([err]) => err)).toEqual([null, null]);
    expect(await counted).toMatchObject({ allowed: true, remaining: 4 });
  });

  it('an unanswered command (Redis black-holed) still fails with a timeout after about a second', async () => {
    await proxy.cut('blackhole');
    try {
      const started = performance.now();
      const err = await proxied.get(`${prefix}k`).then(() => expect.unreachable('nothing can answer'), (e: unknown) => e as Error);
      const elapsed = performance.now() - started;
      expect(err.message).toBe('Command timed out');
      expect(elapsed).toBeGreaterThanOrEqual(990);
      expect(elapsed).toBeLessThan(3000);
    } finally {
      await proxy.restore();
    }
    await until(() => proxied.ping().catch(() => 'down'), (r) => r === 'PONG', 10_000, 'connection back after the restore');
  });

  it('an outage is reported once per kind of failure, not once per reconnect attempt; the next outage is reported again', async () => {
    const through = await proxiedRedis();
    const errors: string[] = [];
    let reconnects = 0;
    const watched = createRedis(through.url, { onError: (err) => errors.push(err.message) });
    watched.on('reconnecting', () => { reconnects += 1; });
    try {
      await until(async () => watched.status, (s) => s === 'ready', 5000, 'connection ready');
      for (const outage of [1, 2]) {
        await through.proxy.cut('refuse');
        const before = reconnects;
        await until(async () => reconnects - before, (n) => n >= 4, 10_000, `four reconnect attempts in outage ${outage}`);
        expect(errors.length, errors.join('\n')).toBeGreaterThan(0);
        // Every message at most once however many attempts failed with it.
        expect(new Set(errors).size, errors.join('\n')).toBe(errors.length);
        expect(errors.length).toBeLessThan(reconnects - before);
        await through.proxy.restore();
        await until(async () => watched.status, (s) => s === 'ready', 10_000, `ready after outage ${outage}`);
        if (outage === 1) errors.length = 0;
      }
      // The second outage said so too, after the first's lines were cleared.
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      watched.disconnect();
      await through.proxy.close();
    }
  });
});
