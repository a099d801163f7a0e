// The Redis connection for shared limits and revocations, configured to fail fast: no offline
// queue (a command while disconnected errors at once instead of waiting), short timeouts, and
// reconnection forever with a capped back-off so service resumes within seconds of Redis returning.
import { Redis, type RedisOptions } from 'ioredis';
import { ServiceUnavailableError } from '../errors/http-error.js';

export type { Redis } from 'ioredis';

export interface RedisClientOptions {
  /** Called for connection errors (ioredis reports each reconnect attempt). */
  readonly onError?: (err: Error) => void;
}

export function redisOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    commandTimeout: 1000,
    // Reconnect every 100 ms … 1 s: the contract wants normal service within 10 s of Redis returning.
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    lazyConnect: false,
  };
}

export function createRedis(url: string, options: RedisClientOptions = {}): Redis {
  const client = new Redis(url, redisOptions());
  // Without a listener, ioredis would log every failed reconnect as an unhandled error event.
  client.on('error', (err: Error) => options.onError?.(err));
  return client;
}

/** Resolves when Redis answers PING within `timeoutMs`. */
export async function pingRedis(client: Redis, timeoutMs = 1000): Promise<boolean> {
  if (client.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('redis ping timeout')), timeoutMs);
    });
    return (await Promise.race([client.ping(), timeout])) === 'PONG';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Any error from a Redis command (not a rate-limit refusal) means Redis is unavailable. */
export function redisUnavailable(cause: unknown): ServiceUnavailableError {
  return new ServiceUnavailableError('redis', cause);
}
