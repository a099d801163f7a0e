// Password hashing runs beside the event loop, never ahead of it: the threads that hash get a
// lower scheduling priority. bin/gatehouse.cjs lowers libuv's pool (where @node-rs/argon2 hashes)
// as it starts; the bcrypt worker thread is lowered here when it starts.
//
// Why: on a small machine a login storm keeps every core busy hashing. At equal priority the
// kernel lets a hashing thread finish its time slice before the event loop runs, so a /healthz
// that arrives meanwhile waits milliseconds for a core (`npm run bench`, login-storm: p99 9–15 ms).
// At nice 10 the event loop preempts a hash as soon as it has work, and the hashes still get every
// cycle it leaves (p99 6–8 ms, logins/s unchanged; docs/performance.md).
//
// Linux only (a thread id is a valid `setpriority` target there); elsewhere nothing changes.
import { getPriority, setPriority } from 'node:os';

/** nice(2) value for hashing threads: well below the event loop (0), far from the floor (19). Also in bin/gatehouse.cjs. */
export const HASHING_NICE = 10;

/** Lowers one thread's priority to `nice` (never raises it: a higher value set by an operator stays). */
export function lowerThreadPriority(tid: number, nice = HASHING_NICE): boolean {
  try {
    if (getPriority(tid) < nice) setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
