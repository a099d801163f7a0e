// Says loudly, once per run, which real backends the suite will use and which tests will skip.
export default function setup(): void {
  const lines: string[] = [];
  if (!process.env.TEST_DATABASE_URL) lines.push('TEST_DATABASE_URL is not set: PostgreSQL variants of storage tests are SKIPPED');
  if (!process.env.TEST_REDIS_URL) lines.push('TEST_REDIS_URL is not set: Redis variants of limit and revocation tests are SKIPPED');
  for (const line of lines) process.stderr.write(`\n!!! ${line} !!!\n`);
}
