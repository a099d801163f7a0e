// Once per run: build dist/ if stale (tests that start real processes run it), and say loudly
// which real backends the suite will use and which variants will skip.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/ensure-build.mjs', import.meta.url))], { stdio: 'inherit' });
  const lines: string[] = [];
  if (!process.env.TEST_DATABASE_URL) lines.push('TEST_DATABASE_URL is not set: PostgreSQL variants of storage tests are SKIPPED');
  if (!process.env.TEST_REDIS_URL) lines.push('TEST_REDIS_URL is not set: Redis variants of limit and revocation tests are SKIPPED');
  for (const line of lines) process.stderr.write(`\n!!! ${line} !!!\n`);
}
