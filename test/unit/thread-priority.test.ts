// The hashing threads' priority (src/crypto/thread-priority.ts) in this process: the bcrypt worker
// runs at nice 10 and still verifies; the calling thread keeps its priority. The libuv pool's
// lowering at start-up is bin/gatehouse.cjs's, proven on the real process in test/process/startup.test.ts.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { once } from 'node:events';
import { getPriority, setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../src/crypto/passwords.js';
import { HASHING_NICE, lowerThreadPriority } from '../../src/crypto/thread-priority.js';

/** nice of every thread of this process, by thread id (field 19 of /proc/self/task/<tid>/stat). */
function threadPriorities(): Map<number, number> {
  const priorities = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      priorities.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return priorities;
}

const self = () => Number(readlinkSync('/proc/thread-self').split('/').pop());

describe('the bcrypt worker', () => {
  it('runs at nice 10: a legacy verify adds one lowered thread, still verifies, and leaves this thread alone', async () => {
    const lowered = () => [...threadPriorities().values()].filter((n) => n === HASHING_NICE).length;
    const before = lowered();
    const mine = threadPriorities().get(self());
    const hasher = createPasswordHasher();
    // The shape passlib stores ($2b$), at the lowest cost to keep the test quick.
    const hash = bcrypt.hashSync('correct horse', 4).replace(/^\$2a\$/, '$2b$');
    expect(await hasher.verify(hash, 'correct horse')).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify(hash, 'wrong horse')).toEqual({ ok: false, needsRehash: false });
    expect(lowered()).toBe(before + 1);
    expect(threadPriorities().get(self())).toBe(mine);
  });
});

describe('lowerThreadPriority', () => {
  it('lowers a thread to nice 10, never raises one an operator set lower still, and reports a thread that is not there', async () => {
    // A thread that reports its id and stays alive until terminated.
    const source = "setInterval(() => {}, 60000); require('node:worker_threads').parentPort.postMessage(require('node:fs').readlinkSync('/proc/thread-self'))";
    const worker = new Worker(source, { eval: true });
    try {
      const tid = Number(String(await once(worker, 'message').then(([m]) => m)).split('/').pop());
      expect(getPriority(tid)).toBe(0);
      expect(lowerThreadPriority(tid)).toBe(true);
      expect(getPriority(tid)).toBe(HASHING_NICE);
      setPriority(tid, 15);
      expect(lowerThreadPriority(tid)).toBe(true);
      expect(getPriority(tid)).toBe(15);
    } finally {
      await worker.terminate();
    }
    expect(lowerThreadPriority(2 ** 30)).toBe(false);
  });
});
