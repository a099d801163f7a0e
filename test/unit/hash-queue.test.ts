// The bounded hashing gate: concurrency, FIFO order, shedding with 503 + Retry-After, and the depth it derives.
import { describe, expect, it } from 'vitest';
import { createHashQueue } from '../../src/crypto/hash-queue.js';
import { HttpError } from '../../src/errors/http-error.js';

/** A job the test finishes by hand, so nothing depends on timing. */
function deferred<T = string>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Lets settled promises run their callbacks. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

async function expectOverloaded(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(HttpError);
  const http = error as HttpError;
  expect(http.code).toBe('OVERLOADED');
  expect(http.status).toBe(503);
  expect(http.headers).toEqual({ 'retry-after': '1' });
  expect(http.detail).toBe('Server is busy; retry shortly');
}

describe('hash queue', () => {
  it('runs at most `concurrency` jobs and starts waiting ones in arrival order', async () => {
    const queue = createHashQueue({ concurrency: 2, maxQueue: 10 });
    const jobs = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    const results = jobs.map((job, i) => queue.run(() => { started.push(i); return job.promise; }));
    expect(started).toEqual([0, 1]);
    expect(queue.active).toBe(2);
    expect(queue.waiting).toBe(3);

    jobs[1]!.resolve('one');
    await flush();
    expect(started).toEqual([0, 1, 2]);
    jobs[0]!.resolve('zero');
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    for (const job of jobs.slice(2)) job.resolve('rest');
    expect(await Promise.all(results)).toEqual(['zero', 'one', 'rest', 'rest', 'rest']);
    expect(queue.active).toBe(0);
    expect(queue.waiting).toBe(0);
  });

  it('sheds the job that finds the line full with OVERLOADED and retry-after, and admits again once it drains', async () => {
    const queue = createHashQueue({ concurrency: 1, maxQueue: 1 });
    const first = deferred();
    const second = deferred();
    const a = queue.run(() => first.promise);
    const b = queue.run(() => second.promise);
    await expectOverloaded(queue.run(() => Promise.resolve('never')));

    first.resolve('a');
    await flush();
    const c = queue.run(() => Promise.resolve('c')); // the line has room again
    second.resolve('b');
    expect(await Promise.all([a, b, c])).toEqual(['a', 'b', 'c']);
  });

  it('with maxQueue 0 admits only what can run at once', async () => {
    const queue = createHashQueue({ concurrency: 2, maxQueue: 0 });
    const job = deferred();
    const runs = [queue.run(() => job.promise), queue.run(() => job.promise)];
    await expectOverloaded(queue.run(() => job.promise));
    job.resolve('done');
    expect(await Promise.all(runs)).toEqual(['done', 'done']);
  });

  it('passes a failing job\'s error to its caller and frees the slot (also for a job that throws synchronously)', async () => {
    const queue = createHashQueue({ concurrency: 1, maxQueue: 5 });
    const failing = deferred();
    const first = queue.run(() => failing.promise);
    const second = queue.run((): Promise<string> => { throw new Error('sync failure'); });
    const third = queue.run(() => Promise.resolve('third'));
    failing.reject(new Error('async failure'));
    await expect(first).rejects.toThrow('async failure');
    await expect(second).rejects.toThrow('sync failure');
    await expect(third).resolves.toBe('third');
    expect(queue.active).toBe(0);
  });

  it('without a fixed depth, allows what the cores drain in one second: first from the estimate, then from the lower quartile of measured run times', async () => {
    let clock = 0;
    const queue = createHashQueue({ concurrency: 2, estimateMs: 100, now: () => clock });
    expect(queue.maxQueue).toBe(20); // 2 cores × 1000 ms / 100 ms

    const job = deferred();
    const run = queue.run(() => job.promise);
    clock += 250;
    job.resolve('measured');
    await run;
    await flush();
    expect(queue.maxQueue).toBe(8); // the first measurement replaces the estimate: 2 × 1000 / 250

    const next = deferred();
    const again = queue.run(() => next.promise);
    clock += 50;
    next.resolve('faster');
    await again;
    await flush();
    // lower quartile of [50, 250] = 50 ms → floor(2000 / 50): a slow outlier (a busy event loop) does not shorten the line
    expect(queue.maxQueue).toBe(40);
  });

  it('enforces the derived depth', async () => {
    const queue = createHashQueue({ concurrency: 1, estimateMs: 400, now: () => 0 });
    expect(queue.maxQueue).toBe(2);
    const job = deferred();
    const admitted = [queue.run(() => job.promise), queue.run(() => job.promise), queue.run(() => job.promise)];
    await expectOverloaded(queue.run(() => job.promise));
    job.resolve('ok');
    expect(await Promise.all(admitted)).toEqual(['ok', 'ok', 'ok']);
  });

  it('refuses bad options at construction, naming the option', () => {
    expect(() => createHashQueue({ concurrency: 0 })).toThrow(new TypeError('concurrency must be a positive integer'));
    expect(() => createHashQueue({ concurrency: 1.5 })).toThrow(TypeError);
    expect(() => createHashQueue({ concurrency: 1, maxQueue: -1 })).toThrow(new TypeError('maxQueue must be a non-negative integer'));
    expect(() => createHashQueue({ concurrency: 1, estimateMs: 0 })).toThrow(new TypeError('estimateMs must be a positive number'));
  });
});
