// For tests that start real processes: the gatehouse bin, a free port, and a bound on waiting.
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The `gatehouse` command (runs the start-up bundle, rebuilt by the vitest global setup). */
export const BIN = fileURLToPath(new URL('../../bin/gatehouse.cjs', import.meta.url));

/** A port nobody holds right now: listen on 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Fails with `what` if `promise` has not settled by the deadline (a bound, not a sleep). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
