// The ceiling for password logins on this machine: raw argon2id hashes per second with the
// OWASP Password Storage Cheat Sheet's first option (m=19 MiB, t=2, p=1), one call in flight per core.
import { availableParallelism } from 'node:os';
import { Algorithm, hash } from '@node-rs/argon2';

export const ARGON2_OPTIONS = Object.freeze({ algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });

/**
 * Keeps `concurrency` hashes in flight for `seconds`; counts the ones finished in that time.
 * A verify costs the same as a hash with the same parameters, so this bounds logins/s.
 */
export async function argon2Rate({ seconds = 3, concurrency = availableParallelism() } = {}) {
  const password = 'correct horse battery staple';
  await hash(password, ARGON2_OPTIONS); // first call loads the pool threads; not counted

  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let done = 0;
  let last = started;
  async function lane() {
    while (performance.now() < deadline) {
      await hash(password, ARGON2_OPTIONS);
      done += 1;
      last = performance.now();
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  const elapsed = (last - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore); // this process only ran the hashes meanwhile
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    hashesPerSecond: done / elapsed, hashesPerCpuSecond: done / cpuSeconds, hashes: done, seconds: elapsed, cpuSeconds,
    concurrency, msPerHash: (elapsed * 1000 * concurrency) / done,
  };
}
