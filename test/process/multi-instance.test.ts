// Contract "Rate limits and lockout" ("with REDIS_URL, two instances behind one address enforce one
// shared budget") as an operator runs it: two real `gatehouse serve` processes on two ports, one
// fresh PostgreSQL schema (which they race to migrate at start-up) and one Redis prefix. Both start
// and the schema is migrated once; the auth budget is one budget across both; a lockout made through
// one holds on the other; a logout on one is refused on the other at once. SIGTERM stops both with 0.
// Steps are sequenced by the processes' own output and HTTP answers, never by sleeping.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SECRET, tempDir } from '../helpers/config.js';
import { dropPrefix, redisConnection, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { BIN, freePort, within } from '../helpers/process.js';
import { withAdmin } from '../helpers/databases.js';

const pgUrl = process.env.TEST_DATABASE_URL;
const START_MS = 90_000;
const AUTH_BUDGET = 30;
const PASSWORD = 'correct horse battery staple';



interface Instance {
  readonly child: ChildProcess;
  readonly base: string;
  readonly lines: Record<string, unknown>[];
  readonly listening: Promise<void>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

async function start(env: Record<string, string>): Promise<Instance> {
  const port = await freePort();
  const dataDir = tempDir();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HOME: dataDir, DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const listening = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        if (line.msg === 'gatehouse listening') resolve();
      } catch {
        lines.push({ notJson: text });
      }
    });
    void exit.then(({ code }) => reject(new Error(`exited (${code}) before listening:\n${stderr}`)));
  });
  listening.catch(() => undefined);
  return { child, base: `http://127.0.0.1:${port}`, lines, listening, exit, stderr: () => stderr };
}


const post = (base: string, path: string, body: Record<string, string>, as: 'json' | 'form' = 'json', headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': as === 'json' ? 'application/json' : 'application/x-www-form-urlencoded', ...headers },
    body: as === 'json' ? JSON.stringify(body) : new URLSearchParams(body).toString(),
  });

const tokenRequest = (base: string, username: string, password: string, headers: Record<string, string> = {}) =>
  post(base, '/api/v1/auth/token', { grant_type: 'password', username, password }, 'form', headers);

/** One request of each auth route family; none of them creates an account or counts toward a lockout. */
const AUTH_FAMILIES: ((base: string, i: number, h: Record<string, string>) => Promise<Response>)[] = [
  (base, _i, h) => post(base, '/api/v1/auth/register', { nonsense: 'x' }, 'json', h),
  (base, i, h) => tokenRequest(base, `nobody_${i}_${randomBytes(3).toString('hex')}`, 'irrelevant', h),
  (base, i, h) => post(base, '/api/v1/auth/login', { username: `nobody_${i}_${randomBytes(3).toString('hex')}`, password: 'irrelevant' }, 'json', h),
  (base, _i, h) => post(base, '/api/v1/auth/password-reset/request', { email: 'nobody@example.com' }, 'json', h),
  (base, _i, h) => post(base, '/api/v1/auth/password-reset/confirm', { token: 'x'.repeat(43), new_password: 'another fine passphrase' }, 'json', h),
];

describe.skipIf(!pgUrl || !redisUrl)('two gatehouse processes on one PostgreSQL schema and one Redis', () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const prefix = uniquePrefix('multi');
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    // A fresh, empty schema: the two processes migrate it themselves, at the same moment.
    await withAdmin((c) => c.query(`create schema ${schema}`));
    const databaseUrl = `${pgUrl}${pgUrl!.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const env = {
      SECRET_KEY: TEST_SECRET, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix,
      // No PUBLIC_URL on purpose: instances on different ports must still accept each other's tokens
      // (without it the token issuer is the constant "gatehouse", not each process's HOST:PORT).
      // The load balancer in front of both is this machine: X-Forwarded-For from loopback names the client.
      TRUST_PROXY: 'loopback',
      RATE_LIMIT_AUTH: `${AUTH_BUDGET}/minute`, LOCKOUT_THRESHOLD: '5', LOCKOUT_WINDOW_MINUTES: '15',
    };
    [a, b] = await Promise.all([start(env), start(env)]);
    try {
      // Generous: on a loaded machine (other files migrating their schemas behind the same advisory
      // lock, other processes competing for the cores) a start can take tens of seconds.
      await within(Promise.all([a.listening, b.listening]), START_MS, 'both processes listening');
    } catch (err) {
      for (const s of [a, b]) process.stderr.write(`${s.base}: ${JSON.stringify(s.lines.slice(-5))}\n${s.stderr()}\n`);
      throw err;
    }
  }, START_MS + 10_000);

  afterAll(async () => {
    for (const s of [a, b]) if (s && s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await withAdmin((c) => c.query(`drop schema if exists ${schema} cascade`));
    const redis = redisConnection();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('both start, ready, on the same schema, migrated exactly once', async () => {
    for (const s of [a, b]) {
      const ready = await fetch(`${s.base}/readyz`);
      expect(ready.status).toBe(200);
      expect(s.stderr()).toBe('');
    }
    const { rows } = await withAdmin((c) => c.query<{ name: string }>(`select name from ${schema}.kysely_migration order by name`));
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
    const { rows: tables } = await withAdmin((c) => c.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = $1`, [schema]));
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['users', 'sessions', 'audit_events']));
  });

  it('a logout on one is refused on the other at once', async () => {
    const username = `leaver_${randomBytes(3).toString('hex')}`;
    expect((await post(a.base, '/api/v1/auth/register', { email: `${username}@example.com`, username, password: PASSWORD })).status).toBe(201);
    const res = await tokenRequest(b.base, username, PASSWORD);
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    const auth = { authorization: `Bearer ${access_token}` };
    expect((await fetch(`${a.base}/api/v1/users/me`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${b.base}/api/v1/users/me`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${a.base}/api/v1/auth/logout`, { method: 'POST', headers: auth })).status).toBe(204);
    const after = await fetch(`${b.base}/api/v1/users/me`, { headers: auth });
    expect(after.status).toBe(401);
    expect(await after.json()).toEqual({ detail: 'Could not validate credentials' });
  });

  it('a lockout made through one holds on the other, for /auth/token and /auth/login', async () => {
    const username = `target_${randomBytes(3).toString('hex')}`;
    expect((await post(b.base, '/api/v1/auth/register', { email: `${username}@example.com`, username, password: PASSWORD })).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await tokenRequest(i % 2 ? b.base : a.base, username, `wrong ${i}`)).status).toBe(401);
    for (const s of [b, a]) {
      const res = await tokenRequest(s.base, username, PASSWORD);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
      expect(await res.json()).toEqual({ detail: 'Too many failed sign-in attempts; try again later' });
    }
    expect((await post(b.base, '/api/v1/auth/login', { username, password: PASSWORD })).status).toBe(429);
  });

  it('the auth budget is one budget across both: alternate requests count down one Remaining, then both refuse', async () => {
    // A client of its own (through the trusted local proxy hop), so its window starts with this test.
    const client = { 'x-forwarded-for': '198.51.100.77' };
    const seen: { port: string; remaining: number }[] = [];
    let refusedAt = -1;
    for (let i = 0; i < AUTH_BUDGET + 2 && refusedAt < 0; i++) {
      const s = i % 2 ? b : a;
      // Every auth family in turn, each a request the budget counts and nothing else does.
      const res = await AUTH_FAMILIES[i % AUTH_FAMILIES.length]!(s.base, i, client);
      if (res.status === 429) refusedAt = i;
      else seen.push({ port: new URL(s.base).port, remaining: Number(res.headers.get('ratelimit-remaining')) });
    }
    expect(refusedAt).toBeGreaterThan(0);
    // One counter: each request, on whichever instance, took one from the same Remaining.
    const remaining = seen.map((x) => x.remaining);
    expect(remaining).toEqual(remaining.map((_, i) => remaining[0]! - i));
    expect(remaining.at(-1)).toBe(0);
    expect(new Set(seen.map((x) => x.port)).size).toBe(2);
    for (const s of [a, b]) {
      const res = await post(s.base, '/api/v1/auth/register', { email: 'late@example.com', username: 'late_user', password: PASSWORD }, 'json', client);
      expect(res.status).toBe(429);
      expect(res.headers.get('ratelimit-limit')).toBe(String(AUTH_BUDGET));
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
  });

  it('SIGTERM stops both with exit code 0', async () => {
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    const exits = await within(Promise.all([a.exit, b.exit]), 30_000, 'both exit after SIGTERM');
    expect(exits).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);
    for (const s of [a, b]) expect(s.lines.filter((l) => 'notJson' in l)).toEqual([]);
  });
});
