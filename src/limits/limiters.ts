// Fixed-window counters behind one interface: in-process memory, or Redis shared by every instance
// (atomic INCR with a TTL set on the window's first request, via rate-limiter-flexible).
// "N a minute" means the (N+1)-th request within 60 s of the window's first is refused.
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from './redis-client.js';
import { redisUnavailable } from './redis-client.js';

export interface WindowLimit {
  readonly points: number;
  readonly durationSeconds: number;
}

export interface LimiterOptions extends WindowLimit {
  /** Distinguishes this counter's keys from every other counter's (and tenant's). */
  readonly keyPrefix: string;
  readonly redis?: Redis;
  /**
   * When Redis fails: 'memory' falls back to this process's own counter (availability first);
   * 'closed' refuses with 503 (protection first). Ignored without Redis.
   */
  readonly onRedisFailure: 'memory' | 'closed';
}

export type Limiter = RateLimiterAbstract;

export function createLimiter(options: LimiterOptions): Limiter {
  const base = { points: options.points, duration: options.durationSeconds, keyPrefix: options.keyPrefix };
  if (!options.redis) return new RateLimiterMemory(base);
  return new RateLimiterRedis({
    ...base,
    storeClient: options.redis,
    rejectIfRedisNotReady: true,
    ...(options.onRedisFailure === 'memory' ? { insuranceLimiter: new RateLimiterMemory(base) } : {}),
  });
}

export interface Decision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window resets (at least 1). */
  readonly resetSeconds: number;
}

function decision(limit: number, res: RateLimiterRes, allowed: boolean): Decision {
  return {
    allowed,
    limit,
    remaining: Math.max(0, res.remainingPoints),
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  };
}

/** Counts one request; a refusal is a Decision, a store failure is a 503 (ServiceUnavailableError). */
export async function consume(limiter: Limiter, key: string, points = 1): Promise<Decision> {
  try {
    return decision(limiter.points, await limiter.consume(key, points), true);
  } catch (err) {
    if (err instanceof RateLimiterRes) return decision(limiter.points, err, false);
    throw redisUnavailable(err);
  }
}

/** The window's current state without counting, or undefined when nothing was counted. */
export async function peek(limiter: Limiter, key: string): Promise<RateLimiterRes | undefined> {
  try {
    return (await limiter.get(key)) ?? undefined;
  } catch (err) {
    throw redisUnavailable(err);
  }
}

export async function forget(limiter: Limiter, key: string): Promise<void> {
  try {
    await limiter.delete(key);
  } catch (err) {
    throw redisUnavailable(err);
  }
}

export async function block(limiter: Limiter, key: string, seconds: number): Promise<void> {
  try {
    await limiter.block(key, seconds);
  } catch (err) {
    throw redisUnavailable(err);
  }
}

/** RFC 9110 Retry-After and the IETF RateLimit-* fields, as bare integers. */
export function limitHeaders(d: Decision): Record<string, string> {
  return {
    'ratelimit-limit': String(d.limit),
    'ratelimit-remaining': String(d.remaining),
    'ratelimit-reset': String(d.resetSeconds),
  };
}
