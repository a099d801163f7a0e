// Real Redis for tests (TEST_REDIS_URL): a key prefix of its own for every app or test file, so files
// running in parallel never share a counter; a plain connection to look at what the app wrote (keys,
// TTLs); a TCP proxy in front of Redis to make it go away for one app; and a bounded poll.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createRedis } from '../../src/limits/redis-client.js';
import { until } from './poll.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export const redisUrl = process.env.TEST_REDIS_URL;
export const redisAvailable = Boolean(redisUrl);

if (!redisUrl) process.stderr.write('!!! TEST_REDIS_URL unset: Redis variants SKIPPED in this file !!!\n');

/** A prefix nobody else uses (REDIS_KEY_PREFIX allows letters, digits and `:_.-`, at most 64). */
export function uniquePrefix(label = 't'): string {
  return `ght:${label}:${randomBytes(6).toString('hex')}:`;
}

/** A connection of the test's own, for inspecting (and cleaning up) what an app stored. */
export function redisConnection(url = redisUrl): Redis {
  if (!url) throw new Error('TEST_REDIS_URL is not set');
  return new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
}

export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** Every key under the prefix with its PTTL in ms (-1: no expiry, -2: gone). */
export async function ttlsUnder(client: Redis, prefix: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const key of await keysUnder(client, prefix)) out[key] = await client.pttl(key);
  return out;
}

export async function dropPrefix(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  if (keys.length > 0) await client.del(...keys);
}

/** A TCP proxy in front of the test Redis, and the REDIS_URL that goes through it. */
export async function proxiedRedis(): Promise<{ proxy: TcpProxy; url: string }> {
  if (!redisUrl) throw new Error('TEST_REDIS_URL is not set');
  const target = new URL(redisUrl);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  return { proxy, url: proxy.rewrite(redisUrl) };
}

// The bounded poll lives in ./poll.ts; re-exported for the limit tests that import it from here.
export { until };

/** The shared-state backends a limit test runs on: in-process memory always, Redis when configured. */
export interface StateBackend {
  readonly name: 'memory' | 'redis';
  readonly available: boolean;
  /** Env for testApp: nothing for memory; REDIS_URL and a fresh REDIS_KEY_PREFIX for Redis. */
  env(prefix?: string): Record<string, string>;
}

export const stateBackends: readonly StateBackend[] = [
  { name: 'memory', available: true, env: () => ({}) },
  { name: 'redis', available: redisAvailable, env: (prefix = uniquePrefix()) => ({ REDIS_URL: redisUrl ?? '', REDIS_KEY_PREFIX: prefix }) },
];

/**
 * In a `describe` per state backend: on Redis, the product's own client (src/limits/redis-client.ts)
 * connected before the tests and, after them, the keys under `prefix` dropped and the connection
 * closed; on memory, nothing. Read it through the getter once the tests run.
 */
export function productRedisFor(backend: { readonly name: string }, prefix: string): () => Redis | undefined {
  let redis: Redis | undefined;
  beforeAll(async () => {
    if (backend.name !== 'redis') return;
    redis = createRedis(redisUrl!);
    await until(async () => redis!.status, (s) => s === 'ready', 5000, 'redis ready');
  });
  afterAll(async () => {
    if (!redis) return;
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });
  return () => redis;
}
