// bcrypt verification on a worker thread, for hashes imported from passlib/FastAPI apps; never on the event loop.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { lowerThreadPriority } from './thread-priority.js';

/**
 * bcryptjs is pure JavaScript: its "async" compare still runs on the main thread in 100 ms slices, and a cost-12
 * compare is several hundred ms of CPU. That would stall every other request, so the compare runs on one worker
 * thread instead. The worker starts on the first bcrypt verify (most deployments never import a bcrypt hash), keeps
 * the process alive only while a compare is pending, and is rebuilt if it ever dies. Concurrency is bounded by the
 * hash queue in front of it; compares that reach the worker together run one after another.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// This thread's kernel id, so the main thread can lower its priority (thread-priority.ts).
try { parentPort.postMessage({ tid: require('node:fs').readlinkSync('/proc/thread-self').split('/').pop() }); } catch {}
const bcrypt = require(workerData.bcryptPath);
parentPort.on('message', ({ id, password, hash }) => {
  let ok = false;
  try { ok = bcrypt.compareSync(password, hash) === true; } catch { ok = false; }
  parentPort.postMessage({ id, ok });
});
`;

interface Pending { readonly resolve: (ok: boolean) => void; readonly reject: (error: Error) => void }

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();

function failAll(error: Error): void {
  worker = undefined;
  for (const entry of pending.values()) entry.reject(error);
  pending.clear();
}

function startWorker(): Worker {
  const bcryptPath = createRequire(import.meta.url).resolve('bcryptjs');
  const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath } });
  started.on('message', ({ id, ok, tid }: { id: number; ok: boolean; tid?: string }) => {
    if (tid !== undefined) {
      // Like the libuv pool's: a bcrypt compare yields the CPU to the event loop.
      lowerThreadPriority(Number(tid));
      return;
    }
    const entry = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) started.unref();
    entry?.resolve(ok);
  });
  started.on('error', (error) => { if (worker === started) failAll(error); });
  started.on('exit', () => { if (worker === started) failAll(new Error('bcrypt worker exited')); });
  return started;
}

/**
 * True when `password` matches the bcrypt `hash`. The caller has already checked the hash's shape and cost and
 * that the password fits bcrypt's 72-byte input; a hash the library rejects compares as false.
 */
export function bcryptCompare(password: string, hash: string): Promise<boolean> {
  worker ??= startWorker();
  const current = worker;
  const id = nextId++;
  return new Promise<boolean>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    current.ref();
    current.postMessage({ id, password, hash });
  });
}
