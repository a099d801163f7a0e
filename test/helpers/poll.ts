// A bounded poll, for states with no event to wait on (a log line, a key's expiry, a recovery).
import { setTimeout as pause } from 'node:timers/promises';

/**
 * Polls `probe` until `done(value)` holds; fails naming `what` after `deadlineMs`. Returns the value
 * and when it first held (ms since the call), so a test can assert the contract's bounds.
 */
export async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, deadlineMs: number, what: string): Promise<{ value: T; at: number }> {
  const started = performance.now();
  for (;;) {
    const value = await probe();
    if (done(value)) return { value, at: performance.now() - started };
    if (performance.now() - started > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await pause(25);
  }
}
