// The process's shared-state backends, chosen from config: in-process memory, or Redis (when
// REDIS_URL is set) for rate limits, lockouts and revocations shared by every instance.
import type { Config } from '../config/index.js';
import { createLimiter, type Limiter } from './limiters.js';
import { createRedis, pingRedis, refusedDatabase, type Redis } from './redis-client.js';

export interface RedisConnections {
  /** Commands: counters, revocation writes. */
  readonly client: Redis;
  /** SUBSCRIBE only (revocation broadcasts). */
  readonly subscriber: Redis;
}

export function connectRedis(url: string, onError: (err: Error) => void): RedisConnections {
  return { client: createRedis(url, { onError }), subscriber: createRedis(url, { onError }) };
}

/** Waits (bounded) until both connections are ready, so the first requests do not meet a half-open Redis. */
export async function waitForRedis(redis: RedisConnections, timeoutMs: number): Promise<boolean> {
  const ready = (c: Redis) => c.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => c.once('ready', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([Promise.all([ready(redis.client), ready(redis.subscriber)]).then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Redis's refusal of the URL's database number, if either connection met one. */
export function refusedRedisDatabase(redis: RedisConnections): string | undefined {
  return refusedDatabase(redis.client) ?? refusedDatabase(redis.subscriber);
}

export async function closeRedis(redis: RedisConnections): Promise<void> {
  redis.client.disconnect();
  redis.subscriber.disconnect();
}

export function redisReady(redis: RedisConnections): Promise<boolean> {
  return pingRedis(redis.client, 1000);
}

/**
 * The per-IP budgets. Redis down: the default budget falls back to this process's own counters
 * (availability: reading your profile should not fail because Redis blinked); the auth budgets
 * fail closed with 503 (sign-in is what attackers flood, and N instances would mean N budgets).
 */
export function rateLimitGroups(config: Config, redis: RedisConnections | undefined, keyPrefix: string): Record<string, Limiter> {
  return {
    default: createLimiter({ ...config.rateLimitDefault, keyPrefix: `${keyPrefix}rl:default`, redis: redis?.client, onRedisFailure: 'memory' }),
    auth: createLimiter({ ...config.rateLimitAuth, keyPrefix: `${keyPrefix}rl:auth`, redis: redis?.client, onRedisFailure: 'closed' }),
    // The pages' sign-in, sign-up and reset forms: RATE_LIMIT_AUTH again, but their own budget, since
    // the contract's auth budget is counted by the four API route families only.
    'auth-pages': createLimiter({ ...config.rateLimitAuth, keyPrefix: `${keyPrefix}rl:auth-pages`, redis: redis?.client, onRedisFailure: 'closed' }),
  };
}
