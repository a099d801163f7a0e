// Redis may restart empty (here it keeps nothing on disk): the lockout counts would go with it,
// handing every locked account back and every attacker a fresh set of guesses. A marker key, written
// once the counts are known to be whole, tells a (re)connecting instance whether Redis lost them;
// the one instance that finds it missing (SET NX) rebuilds them from the audit log, the source of
// truth the in-process lockout restarts from too. Every instance that finds it missing rebuilds (the
// rebuild is idempotent: the same counts from the same log), and only then sets it: one instance
// whose database hangs cannot leave the others believing the counts are back. The marker lives one
// lockout window, like the counts: once it lapses, the next reconnection rebuilds what is already
// there (counts rebuilt from the log are never shorter than the originals): one query, never a count.
import type { Redis } from './redis-client.js';

export interface LockoutRecoveryOptions {
  readonly client: Redis;
  readonly keyPrefix: string;
  readonly windowMs: number;
  /** Rebuilds the counts (Lockout.restore from the audit log's last window). */
  readonly rebuild: () => Promise<void>;
  readonly onError: (err: unknown) => void;
}

/** Checks at once (if connected) and on every reconnection; resolves with the first check. */
export function keepLockoutsAcrossRedisRestarts(o: LockoutRecoveryOptions): Promise<void> {
  const marker = `${o.keyPrefix}lock:intact`;
  let running: Promise<void> | undefined;
  const check = (): Promise<void> => {
    running ??= (async () => {
      try {
        // Missing: a new or emptied Redis (or a lapsed marker).
        if ((await o.client.exists(marker)) === 1) return;
        await o.rebuild();
        await o.client.set(marker, '1', 'PX', o.windowMs);
      } catch (err) {
        // Not rebuilt: the marker stays missing, so the next reconnection (or instance) tries again.
        o.onError(err);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  o.client.on('ready', () => void check());
  return o.client.status === 'ready' ? check() : Promise.resolve();
}
