// The Redis connection for shared limits and revocations, configured to fail fast: no offline
// queue (a command while disconnected errors at once instead of waiting), short timeouts, and
// reconnection forever with a capped back-off so service resumes within seconds of Redis returning.
import { createRequire } from 'node:module';
import type { Command, Redis, RedisOptions } from 'ioredis';
import { ServiceUnavailableError } from '../errors/http-error.js';

export type { Redis } from 'ioredis';

export interface RedisClientOptions {
  /** Called for connection errors (ioredis reports each reconnect attempt). */
  readonly onError?: (err: Error) => void;
}

const COMMAND_TIMEOUT_MS = 1000;

export function redisOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    // A dropped connection (the heartbeat below) is closed at once: ioredis would otherwise wait 2 s
    // for a partitioned peer to acknowledge the close, and the revocation mirror, which stops trusting
    // itself on 'close', would believe itself current that much longer.
    disconnectTimeout: 100,
    // No `commandTimeout`: ioredis's fires in the timers phase, and after a stall of this process
    // (a long GC, a starved CPU) the timers phase runs before the poll phase has read the reply
    // that arrived meanwhile: a spurious 503. createRedis arms a timeout that waits for that read.
    // A command that timed out was answered 503 already: it must not run later, after a reconnect
    // (ioredis would resend it: a rate-limit hit or a lock the caller was told had failed).
    autoResendUnfulfilledCommands: false,
    // ioredis would resubscribe on reconnect without catching a failure (an unhandled rejection
    // when the link drops again at once); the revocation store subscribes itself, on every 'ready'.
    autoResubscribe: false,
    // Reconnect every 100 ms … 1 s: the contract wants normal service within 10 s of Redis returning.
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    lazyConnect: false,
  };
}

/** How often each connection proves it is alive. */
const HEARTBEAT_MS = 500;

const DATABASE_REFUSED = /\bDB index\b/i;
const refusedDatabases = new WeakMap<Redis, string>();

/** Redis's answer when it refused the URL's database number (the connection is then never ready). */
export function refusedDatabase(client: Redis): string | undefined {
  return refusedDatabases.get(client);
}

export function createRedis(url: string, options: RedisClientOptions = {}): Redis {
  // ioredis loads only when REDIS_URL is set: a single instance never pays for it at start-up.
  const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  const client = new RedisClient(url, redisOptions());
  // Each failure is reported once an outage: ioredis reconnects every few hundred milliseconds, and
  // a line for each attempt would bury the log (86 lines in 40 s with nothing listening).
  const reported = new Set<string>();
  client.on('ready', () => reported.clear());
  // Without a listener, ioredis would log every failed reconnect as an unhandled error event.
  client.on('error', (err: Error) => {
    // ioredis reports a refused SELECT (the URL's database number is beyond the server's
    // `databases`) and then carries on, ready, on database 0: another deployment's keys. Dropped
    // instead, so the connection never becomes ready (fail closed, /readyz 503) and start-up can say why.
    if (DATABASE_REFUSED.test(err.message) && client.status === 'connect') {
      refusedDatabases.set(client, err.message);
      client.disconnect(true);
    }
    if (reported.has(err.message)) return;
    reported.add(err.message);
    options.onError?.(err);
  });
  boundCommands(client);
  watchLiveness(client);
  return client;
}

/**
 * Every command (pipelines and MULTI included: they are sent through sendCommand too) fails with
 * ioredis's own "Command timed out" if unanswered after COMMAND_TIMEOUT_MS — but only once the event
 * loop has polled its sockets after the timer fired: a reply that is already in the socket buffer
 * wins over a timer that was merely late.
 */
function boundCommands(client: Redis): void {
  const send = client.sendCommand.bind(client) as (...args: unknown[]) => unknown;
  client.sendCommand = ((command: Command, ...rest: unknown[]) => {
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (!command.isSettled) command.reject(new Error('Command timed out'));
      });
    }, COMMAND_TIMEOUT_MS);
    timer.unref();
    command.promise.then(() => clearTimeout(timer), () => clearTimeout(timer));
    return send(command, ...rest);
  }) as Redis['sendCommand'];
}

/**
 * A partition (packets dropped, no RST) leaves the socket open and every command timing out for
 * good: ioredis never reconnects by itself, and a subscriber never learns that it stopped hearing.
 * So each connection pings; an unanswered ping (the command timeout) drops the connection — a 'close',
 * which the revocation mirror takes as "stop trusting me" — and reconnects, so service resumes as
 * soon as the network does. Detection takes at most HEARTBEAT_MS + COMMAND_TIMEOUT_MS + the 100 ms
 * disconnect timeout (1.6 s), inside the contract's 2 s.
 */
function watchLiveness(client: Redis): void {
  let pending = false;
  const timer = setInterval(() => {
    if (pending || client.status !== 'ready') return;
    pending = true;
    const sent = performance.now();
    client.ping().then(
      () => {
        pending = false;
      },
      () => {
        pending = false;
        // A timeout that fired late means this process was stalled, not that Redis went quiet:
        // judge again on the next beat instead of reconnecting.
        const stalled = performance.now() - sent > COMMAND_TIMEOUT_MS + 250;
        if (!stalled && client.status === 'ready') client.disconnect(true);
      },
    );
  }, HEARTBEAT_MS);
  timer.unref();
  client.once('end', () => clearInterval(timer));
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
