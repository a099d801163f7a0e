// Lockout counts after Redis comes back empty (src/limits/lockout-recovery.ts), with real Redis and
// the product's own client: each instance that finds the marker missing rebuilds, and only a finished
// rebuild sets it, so one instance whose rebuild hangs (its database unreachable) cannot leave the
// others believing the counts are back; with the marker there, nobody rebuilds; it expires with the window.
import { afterAll, describe, expect, it } from 'vitest';
import { keepLockoutsAcrossRedisRestarts } from '../../src/limits/lockout-recovery.js';
import { createRedis, type Redis } from '../../src/limits/redis-client.js';
import { dropPrefix, redisAvailable, redisConnection, redisUrl, uniquePrefix, until } from '../helpers/redis.js';

describe.skipIf(!redisAvailable)('lockout recovery after an empty Redis', () => {
  const prefix = uniquePrefix('lockrec');
  const clients: Redis[] = [];
  const client = async () => {
    const c = createRedis(redisUrl!);
    clients.push(c);
    await until(async () => c.status, (s) => s === 'ready', 5000, 'connected');
    return c;
  };
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    const redis = redisConnection();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('a hung rebuild on one instance does not stop another from rebuilding; a finished one sets the marker for a window', async () => {
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    const options = { keyPrefix: prefix, windowMs: 15 * 60_000, onError };
    // The first instance's database hangs: its rebuild never ends.
    void keepLockoutsAcrossRedisRestarts({ ...options, client: await client(), rebuild: () => new Promise<void>(() => undefined) });
    let rebuilt = 0;
    await keepLockoutsAcrossRedisRestarts({ ...options, client: await client(), rebuild: async () => { rebuilt += 1; } }).firstCheck;
    expect(rebuilt).toBe(1);
    const redis = redisConnection();
    try {
      const ttl = await redis.pttl(`${prefix}lock:intact`);
      expect(ttl).toBeGreaterThan(14 * 60_000);
      expect(ttl).toBeLessThanOrEqual(15 * 60_000);
      // The counts are whole now: a third instance connecting finds the marker and leaves them be.
      await keepLockoutsAcrossRedisRestarts({ ...options, client: await client(), rebuild: async () => { rebuilt += 1; } }).firstCheck;
      expect(rebuilt).toBe(1);
      // A failed rebuild leaves the marker missing, so the next one tries again.
      await redis.del(`${prefix}lock:intact`);
      const down = keepLockoutsAcrossRedisRestarts({ ...options, client: await client(), rebuild: async () => { throw new Error('database down'); } });
      await down.firstCheck;
      expect(await redis.exists(`${prefix}lock:intact`)).toBe(0);
      expect(errors).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
  });

  it('a rebuild that failed (the database down when Redis came back) is tried again by itself, and no sign-in is judged before it worked', async () => {
    const redis = redisConnection();
    try {
      await redis.del(`${prefix}lock:intact`);
      let databaseUp = false;
      let rebuilt = 0;
      const recovery = keepLockoutsAcrossRedisRestarts({
        keyPrefix: prefix, windowMs: 15 * 60_000, onError: () => undefined, client: await client(),
        rebuild: async () => {
          if (!databaseUp) throw new Error('database down');
          rebuilt += 1;
        },
      });
      await recovery.firstCheck;
      // A sign-in meanwhile is refused (503), not judged against counts Redis lost.
      await expect(recovery.ensureWhole()).rejects.toMatchObject({ status: 503 });
      expect(await redis.exists(`${prefix}lock:intact`)).toBe(0);
      // The database is back: the retry rebuilds without waiting for a sign-in or a reconnection.
      databaseUp = true;
      await until(() => redis.exists(`${prefix}lock:intact`), (n) => n === 1, 5000, 'the marker set by the retry');
      expect(rebuilt).toBe(1);
      await recovery.ensureWhole();
      expect(rebuilt).toBe(1);
    } finally {
      redis.disconnect();
    }
  });
});
