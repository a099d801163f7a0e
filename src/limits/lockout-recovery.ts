// Redis may restart empty (here it keeps nothing on disk): the lockout counts would go with it,
// handing every locked account back and every attacker a fresh set of guesses. A marker key, written
// once the counts are known to be whole, tells a (re)connecting instance whether Redis lost them;
// the one instance that finds it missing (SET NX) rebuilds them from the audit log, the source of
// truth the in-process lockout restarts from too. Every instance that finds it missing rebuilds (the
// rebuild is idempotent: the same counts from the same log), and only then sets it: one instance
// whose database hangs cannot leave the others believing the counts are back. The marker lives one
// lockout window, like the counts: once it lapses, the next reconnection rebuilds what is already
// there (counts rebuilt from the log are never shorter than the originals): one query, never a count.
import { ServiceUnavailableError } from '../errors/http-error.js';
import { redisUnavailable, type Redis } from './redis-client.js';

export interface LockoutRecoveryOptions {
  readonly client: Redis;
  readonly keyPrefix: string;
  readonly windowMs: number;
  /** Rebuilds the counts (Lockout.restore from the audit log's last window). */
  readonly rebuild: () => Promise<void>;
  readonly onError: (err: unknown) => void;
}

/** How soon a rebuild that failed (the database down when Redis came back) is tried again. */
const RETRY_MS = 2000;

export interface LockoutRecovery {
  /** Resolves once the counts are known whole; tries the rebuild now if they are not; rejects if it still fails. */
  ensureWhole(): Promise<void>;
  /** Resolves with the first check (made at once if connected). */
  readonly firstCheck: Promise<void>;
}

/**
 * Checks at once (if connected) and on every reconnection; a failed rebuild is tried again every
 * RETRY_MS, and a sign-in meanwhile waits for one more try (or is refused with its error): the
 * counts are never taken for whole while they are not, whatever the order the two faults end in.
 */
export function keepLockoutsAcrossRedisRestarts(o: LockoutRecoveryOptions): LockoutRecovery {
  const marker = `${o.keyPrefix}lock:intact`;
  let whole = false;
  let running: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  const check = (): Promise<void> => {
    running ??= (async () => {
      try {
        // Missing: a new or emptied Redis (or a lapsed marker). Redis's failures are named as its own
        // here; whatever else fails is the rebuild's read of the audit log: the database's.
        if ((await o.client.exists(marker).catch((err: unknown) => { throw redisUnavailable(err); })) !== 1) {
          await o.rebuild();
          await o.client.set(marker, '1', 'PX', o.windowMs).catch((err: unknown) => { throw redisUnavailable(err); });
        }
        whole = true;
      } catch (err) {
        // Not rebuilt: the marker stays missing; tried again soon, and before any sign-in.
        o.onError(err);
        clearTimeout(retry);
        retry = setTimeout(() => void check().catch(() => undefined), RETRY_MS);
        retry.unref();
        throw err;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  o.client.on('ready', () => {
    // Reconnected: Redis may have restarted empty since the counts were last known whole.
    whole = false;
    void check().catch(() => undefined);
  });
  return {
    ensureWhole: () => (whole ? Promise.resolve() : check().catch((err: unknown) => {
      throw err instanceof ServiceUnavailableError ? err : new ServiceUnavailableError('database', err);
    })),
    firstCheck: o.client.status === 'ready' ? check().catch(() => undefined) : Promise.resolve(),
  };
}
