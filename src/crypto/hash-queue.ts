// The bounded gate in front of password hashing: at most `concurrency` hashes run, a short line waits, the rest shed with 503.
import { HttpError } from '../errors/http-error.js';

/**
 * Why a gate at all: each argon2id run holds its whole memory cost (19 MiB by default) for its duration, and a
 * login flood would otherwise pile up unbounded work and memory (OWASP Password Storage Cheat Sheet: password
 * hashing is a DoS vector). With the gate, memory in use is at most `concurrency × memoryCost`, a waiting job holds
 * only a closure, and the line is never longer than the cores can drain within about a second, so a request that
 * is admitted is answered promptly and one that is not gets `503` with `Retry-After` straight away.
 */
export interface HashQueueOptions {
  /** Jobs allowed to run at once (normally the number of cores). */
  readonly concurrency: number;
  /** Fixed depth of the waiting line. When absent the depth follows the measured run time (see `maxQueue`). */
  readonly maxQueue?: number;
  /** Run time assumed for one job until one has been measured, in ms; used only when `maxQueue` is absent. */
  readonly estimateMs?: number;
  /** Monotonic clock in ms; tests pass a fake one. */
  readonly now?: () => number;
}

export interface HashQueue {
  /** Runs `job` now, or after the jobs ahead of it; rejects with `OVERLOADED` at once when the line is full. */
  run<T>(job: () => Promise<T>): Promise<T>;
  /** Jobs running now. */
  readonly active: number;
  /** Jobs waiting for a slot. */
  readonly waiting: number;
  /** Current depth limit of the waiting line. */
  readonly maxQueue: number;
}

/** The window the waiting line must drain within. */
const DRAIN_WINDOW_MS = 1000;
/**
 * Run times kept to estimate the cost of one hash. The estimate is their lower quartile, not their
 * mean: a run's wall time also counts how long its completion waited for a busy event loop, which
 * grows exactly when the server is flooded — following the mean would shorten the line under a
 * flood, shed more, and keep the loop busier still (docs/benchmarks.md, login storm).
 */
const SAMPLES = 32;

export function createHashQueue(options: HashQueueOptions): HashQueue {
  const { concurrency } = options;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new TypeError('concurrency must be a positive integer');
  }
  const fixedDepth = options.maxQueue;
  if (fixedDepth !== undefined && (!Number.isSafeInteger(fixedDepth) || fixedDepth < 0)) {
    throw new TypeError('maxQueue must be a non-negative integer');
  }
  let estimateMs = options.estimateMs ?? 100;
  if (!(estimateMs > 0) || !Number.isFinite(estimateMs)) throw new TypeError('estimateMs must be a positive number');
  const now = options.now ?? (() => performance.now());

  let active = 0;
  const samples: number[] = [];
  const line: (() => void)[] = [];

  // How many jobs `concurrency` workers finish in DRAIN_WINDOW_MS at the estimated run time.
  const depth = (): number => fixedDepth ?? Math.floor((concurrency * DRAIN_WINDOW_MS) / estimateMs);

  const record = (elapsedMs: number): void => {
    samples.push(Math.max(elapsedMs, 0.01));
    if (samples.length > SAMPLES) samples.shift();
    const sorted = [...samples].sort((a, b) => a - b);
    estimateMs = sorted[Math.floor((sorted.length - 1) / 4)]!;
  };

  const release = (): void => {
    active -= 1;
    const next = line.shift();
    if (next) next();
  };

  function run<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        active += 1;
        const started = now();
        // A job that throws synchronously still frees its slot.
        new Promise<T>((settle) => settle(job())).then(resolve, reject).finally(() => {
          record(now() - started);
          release();
        });
      };
      if (active < concurrency && line.length === 0) start();
      else if (line.length < depth()) line.push(start);
      else reject(new HttpError('OVERLOADED', { headers: { 'retry-after': '1' } }));
    });
  }

  return {
    run,
    get active() { return active; },
    get waiting() { return line.length; },
    get maxQueue() { return depth(); },
  };
}
