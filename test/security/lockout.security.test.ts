// Contract "Rate limits and lockout", the per-account lockout, on memory and Redis with the same
// bodies: the 5th failure in the window (from any mix of IPs) locks the account for at least 60 s,
// doubling with each further lockout in the window; while locked every sign-in for it — right
// password or not, any IP, /auth/token or /auth/login — is 429, and other accounts are unaffected;
// a success before the threshold starts the count again; unknown usernames lock exactly alike (no
// enumeration through lockout); `login.failure` and `lockout` are audited.
// Time: vitest fake timers on memory; on Redis, the lock key's PTTL (and letting Redis expire it).
import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GatehouseApp } from '../../src/app.js';
import { openStorage } from '../../src/storage/index.js';
import { testApp, type TestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/config.js';
import { PASSWORD, bearer, form, tokenFor } from '../helpers/auth.js';
import { enableTotp, stepCode } from '../helpers/mfa.js';
import { dropPrefix, proxiedRedis, redisAvailable, redisConnection, stateBackends, ttlsUnder, uniquePrefix, until } from '../helpers/redis.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';

const THRESHOLD = 5;
const LOCKED = { detail: 'Too many failed sign-in attempts; try again later' };
const BAD_LOGIN = { detail: 'Incorrect username or password' };

let ipCounter = 0;
const nextIp = () => `198.18.${Math.floor(++ipCounter / 250)}.${(ipCounter % 250) + 1}`;

function tokenLogin(app: GatehouseApp, username: string, password: string, remoteAddress = nextIp()): Promise<LightMyRequestResponse> {
  const body = form({ grant_type: 'password', username, password });
  return app.inject({ method: 'POST', url: '/api/v1/auth/token', remoteAddress, payload: body.payload, headers: { ...body.headers, 'user-agent': 'lockout-test' } });
}

function browserLogin(app: GatehouseApp, username: string, password: string, remoteAddress = nextIp()): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { username, password } });
}

/** `count` wrong passwords, each from a different IP; every one is the plain 401. */
async function failFromManyIps(app: GatehouseApp, username: string, count = THRESHOLD): Promise<string[]> {
  const ips: string[] = [];
  for (let i = 0; i < count; i++) {
    const ip = nextIp();
    ips.push(ip);
    const res = await tokenLogin(app, username, `wrong password ${i}`, ip);
    expect(res.statusCode, `failure #${i + 1}`).toBe(401);
    expect(res.json()).toEqual(BAD_LOGIN);
  }
  return ips;
}

/** The 429 of a locked account; returns its Retry-After in seconds. */
function expectLocked(res: LightMyRequestResponse): number {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.json()).toEqual(LOCKED);
  for (const h of ['retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) expect(res.headers[h], h).toMatch(/^\d+$/);
  expect(res.headers['ratelimit-remaining']).toBe('0');
  expect(res.headers['ratelimit-reset']).toBe(res.headers['retry-after']);
  expect(res.body).not.toMatch(/access_token|refresh_token/);
  expect(res.headers['set-cookie']).toBeUndefined();
  return Number(res.headers['retry-after']);
}

for (const backend of stateBackends) {
  describe.skipIf(!backend.available)(`account lockout on ${backend.name}`, () => {
    const prefix = uniquePrefix('lock');
    let t: TestApp;
    let userNo = 0;
    /** A fresh account per test: every test starts with a clean failure count. */
    async function account(): Promise<{ id: number; username: string; email: string }> {
      const username = `victim${++userNo}`;
      const user = await t.app.gatehouse.users.register({ email: `${username}@example.com`, username, password: PASSWORD });
      return { id: user.id, username, email: user.email };
    }
    const lockKey = (accountKey: string) => `${prefix}lock:fail:${accountKey}`;

    /** Ends the current lock: fake time on memory; on Redis, lets the lock key expire now. */
    async function passLock(seconds: number, accountKey: string): Promise<void> {
      if (backend.name === 'memory') {
        vi.advanceTimersByTime(seconds * 1000 + 100);
        return;
      }
      const redis = redisConnection();
      try {
        await redis.pexpire(lockKey(accountKey), 1);
        await until(() => redis.exists(lockKey(accountKey)), (n) => n === 0, 2000, 'the lock key expired');
      } finally {
        redis.disconnect();
      }
    }

    /** Remaining lock time as the store holds it: PTTL on Redis, Retry-After from a probe on memory. */
    async function lockPttl(accountKey: string): Promise<number> {
      const redis = redisConnection();
      try {
        return await redis.pttl(lockKey(accountKey));
      } finally {
        redis.disconnect();
      }
    }

    beforeAll(async () => {
      t = await testApp({ env: { RATE_LIMIT_AUTH: '100000/minute', LOCKOUT_THRESHOLD: String(THRESHOLD), LOCKOUT_WINDOW_MINUTES: '15', ...backend.env(prefix) } });
    });
    afterAll(async () => {
      await t?.close();
      if (backend.name === 'redis') {
        const redis = redisConnection();
        await dropPrefix(redis, prefix);
        redis.disconnect();
      }
    });
    if (backend.name === 'memory') {
      afterEach(() => {
        vi.useRealTimers();
      });
    }
    const fakeTime = () => {
      if (backend.name === 'memory') vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    };

    it('5 wrong passwords from 5 IPs lock the account: the right password from a 6th IP is 429 on /auth/token and /auth/login', async () => {
      fakeTime();
      const victim = await account();
      const bystander = await account();
      await failFromManyIps(t.app, victim.username);
      const retryAfter = expectLocked(await tokenLogin(t.app, victim.username, PASSWORD));
      expect(retryAfter).toBeGreaterThanOrEqual(59);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expectLocked(await browserLogin(t.app, victim.username, PASSWORD));
      // The same account by its email, and a wrong password: locked too.
      expectLocked(await tokenLogin(t.app, victim.email, PASSWORD));
      expectLocked(await tokenLogin(t.app, victim.username.toUpperCase(), 'still wrong'));
      // Another account is unaffected, from the very IPs that just failed.
      expect((await tokenLogin(t.app, bystander.username, PASSWORD)).statusCode).toBe(200);
      expect((await browserLogin(t.app, bystander.username, PASSWORD)).statusCode).toBe(200);
      if (backend.name === 'redis') {
        const pttl = await lockPttl(`user:${victim.id}`);
        expect(pttl).toBeGreaterThan(55_000);
        expect(pttl).toBeLessThanOrEqual(60_000);
      }
    });

    it('4 failures do not lock; the 5th failure is still the plain 401 and locks', async () => {
      const victim = await account();
      await failFromManyIps(t.app, victim.username, THRESHOLD - 1);
      expect((await tokenLogin(t.app, victim.username, 'nope')).json()).toEqual(BAD_LOGIN);
      expectLocked(await tokenLogin(t.app, victim.username, PASSWORD));
    });

    it('the lock lasts at least 60 s and attempts while locked do not extend it', async () => {
      fakeTime();
      const victim = await account();
      await failFromManyIps(t.app, victim.username);
      if (backend.name === 'memory') {
        vi.advanceTimersByTime(30_000);
        for (let i = 0; i < 10; i++) expectLocked(await tokenLogin(t.app, victim.username, `guess ${i}`));
        const left = expectLocked(await tokenLogin(t.app, victim.username, PASSWORD));
        expect(left).toBeLessThanOrEqual(30);
        vi.advanceTimersByTime(29_000);
        expectLocked(await tokenLogin(t.app, victim.username, PASSWORD));
        vi.advanceTimersByTime(1_200);
        expect((await tokenLogin(t.app, victim.username, PASSWORD)).statusCode).toBe(200);
      } else {
        const before = await lockPttl(`user:${victim.id}`);
        for (let i = 0; i < 10; i++) expectLocked(await tokenLogin(t.app, victim.username, `guess ${i}`));
        expect(await lockPttl(`user:${victim.id}`)).toBeLessThanOrEqual(before);
        await passLock(60, `user:${victim.id}`);
        expect((await tokenLogin(t.app, victim.username, PASSWORD)).statusCode).toBe(200);
      }
    });

    it('the next lockout inside the window doubles: 60 s, then 120 s, then 240 s', async () => {
      fakeTime();
      const victim = await account();
      const key = `user:${victim.id}`;
      const locks: number[] = [];
      for (const seconds of [60, 120, 240]) {
        await failFromManyIps(t.app, victim.username);
        const retryAfter = expectLocked(await tokenLogin(t.app, victim.username, PASSWORD));
        locks.push(retryAfter);
        expect(retryAfter).toBeGreaterThanOrEqual(seconds - 1);
        expect(retryAfter).toBeLessThanOrEqual(seconds);
        if (backend.name === 'redis') {
          const pttl = await lockPttl(key);
          expect(pttl).toBeGreaterThan((seconds - 5) * 1000);
          expect(pttl).toBeLessThanOrEqual(seconds * 1000);
        } else {
          // Still locked one second before the end.
          vi.advanceTimersByTime((seconds - 1) * 1000);
          expectLocked(await tokenLogin(t.app, victim.username, PASSWORD));
          vi.advanceTimersByTime(1_000);
        }
        await passLock(0, key);
      }
      expect(locks).toEqual([60, 120, 240]);
      // After the last lock: the right password gets in again.
      expect((await tokenLogin(t.app, victim.username, PASSWORD)).statusCode).toBe(200);
    });

    it('a success before the threshold starts the count again', async () => {
      const victim = await account();
      await failFromManyIps(t.app, victim.username, THRESHOLD - 1);
      expect((await tokenLogin(t.app, victim.username, PASSWORD)).statusCode).toBe(200);
      await failFromManyIps(t.app, victim.username, THRESHOLD - 1);
      expect((await browserLogin(t.app, victim.username, PASSWORD)).statusCode).toBe(200);
      // Counting from zero again: it takes the full 5 to lock.
      await failFromManyIps(t.app, victim.username, THRESHOLD);
      expectLocked(await tokenLogin(t.app, victim.username, PASSWORD));
    });

    it('unknown usernames lock exactly like real ones: same statuses, bodies, headers and lock time', async () => {
      const real = await account();
      const ghost = `ghost${userNo}_${process.pid}`;
      const answers = async (username: string) => {
        const out = [];
        for (let i = 0; i < THRESHOLD + 2; i++) {
          const res = await tokenLogin(t.app, username, i < THRESHOLD ? `wrong ${i}` : PASSWORD);
          out.push({ status: res.statusCode, body: res.json(), retryAfter: res.headers['retry-after'], headers: Object.keys(res.headers).filter((h) => !['x-request-id', 'date', 'content-length'].includes(h)).sort() });
        }
        return out;
      };
      const [forReal, forGhost] = [await answers(real.username), await answers(ghost)];
      expect(forGhost).toEqual(forReal);
      expect(forGhost.map((a) => a.status)).toEqual([401, 401, 401, 401, 401, 429, 429]);
      expect(await browserLogin(t.app, ghost, PASSWORD).then((r) => r.statusCode)).toBe(429);
    });

    it('a burst of guesses sent at once gets no more than 5 answers as guesses: the right password inside it gets no tokens', async () => {
      const victim = await account();
      // 100 guesses at once from 100 IPs, the right password the 21st; all in flight together.
      const guesses = Array.from({ length: 100 }, (_, i) => (i === 20 ? PASSWORD : `burst ${i}`));
      const results = await Promise.all(guesses.map((password) => tokenLogin(t.app, victim.username, password)));
      const statuses = results.map((r) => r.statusCode);
      expect(statuses.filter((s) => s === 200), statuses.join()).toEqual([]);
      // The guesses that finished before the lock are answered as themselves; all later ones (the
      // right one among them) get the same 429; a few may have been shed (503) by the hashing queue.
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(THRESHOLD);
      expect(statuses.every((s) => s === 401 || s === 429 || s === 503), statuses.join()).toBe(true);
      const locked = results.filter((r) => r.statusCode === 429);
      for (const res of locked) expectLocked(res);
      expect(results[20]!.statusCode).toBe(429);
      // The burst's failures locked the account: once, however many requests raced.
      const retryAfter = expectLocked(await tokenLogin(t.app, victim.username, PASSWORD));
      expect(retryAfter).toBeGreaterThan(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      const { events } = await t.app.gatehouse.audit.list({ limit: 50, offset: 0, userId: victim.id, action: 'lockout' });
      expect(events).toHaveLength(1);
      // Every refused attempt of the burst is on record, with its own IP.
      const blocked = (await t.app.gatehouse.audit.list({ limit: 200, offset: 0, userId: victim.id, action: 'login.failure' })).events.filter((e) => e.outcome === 'blocked');
      expect(blocked.length).toBeGreaterThanOrEqual(locked.length);
      expect(new Set(blocked.map((e) => e.ip)).size).toBe(blocked.length);
      // The audit says what each client was told: a `failure` for every 401, none for a 429, and no
      // request recorded both ways (a guess refused after its verify was once a failure and blocked).
      const all = (await t.app.gatehouse.audit.list({ limit: 300, offset: 0, userId: victim.id, action: 'login.failure' })).events;
      const failures = all.filter((e) => e.outcome === 'failure');
      expect(failures).toHaveLength(statuses.filter((s) => s === 401).length);
      const byRequest = new Map<string, string[]>();
      for (const e of all) byRequest.set(e.requestId!, [...(byRequest.get(e.requestId!) ?? []), e.outcome]);
      for (const [requestId, outcomes] of byRequest) expect(outcomes, requestId).toHaveLength(1);
    });

    it('sign-ins with the right password sent at once are all answered (the lockout holds back only guesses)', async () => {
      const victim = await account();
      const statuses = (await Promise.all(Array.from({ length: 8 }, () => tokenLogin(t.app, victim.username, PASSWORD)))).map((r) => r.statusCode);
      expect(statuses).toEqual(Array(8).fill(200));
    });

    it('a burst that stays within the threshold is verified in full: the right password inside it signs in', async () => {
      const victim = await account();
      const guesses = [...Array.from({ length: THRESHOLD - 1 }, (_, i) => `near miss ${i}`), PASSWORD];
      const statuses = (await Promise.all(guesses.map((password) => tokenLogin(t.app, victim.username, password)))).map((r) => r.statusCode);
      expect(statuses.sort()).toEqual([200, ...Array(THRESHOLD - 1).fill(401)]);
    });

    describe('with TOTP on', () => {
      /** An account with MFA enabled; returns a code that is wrong at every accepted step, and a recovery code. */
      async function mfaAccount() {
        const victim = await account();
        const pair = await tokenFor(t.app, victim.username);
        const mfa = await enableTotp(t.app, pair.access_token, { now: () => Date.now() });
        const accepted = new Set([-1, 0, 1].map((o) => stepCode(mfa.secret, Date.now(), o)));
        const wrong = ['000000', '111111', '222222', '333333'].find((c) => !accepted.has(c))!;
        return { ...victim, wrong, recovery: mfa.recovery_codes[0]! };
      }
      const withOtp = (username: string, otp?: string) => {
        const body = form({ grant_type: 'password', username, password: PASSWORD, ...(otp === undefined ? {} : { otp }) });
        return t.app.inject({ method: 'POST', url: '/api/v1/auth/token', remoteAddress: nextIp(), payload: body.payload, headers: body.headers });
      };

      it('a wrong TOTP code counts like a wrong password: 5 of them lock the account', async () => {
        const victim = await mfaAccount();
        for (let i = 0; i < THRESHOLD; i++) {
          const res = await withOtp(victim.username, victim.wrong);
          expect(res.statusCode).toBe(401);
          expect(res.json()).toMatchObject({ error: 'mfa_required' });
        }
        // Locked before the second factor is even looked at: the recovery code is not spent.
        expectLocked(await withOtp(victim.username, victim.recovery));
      });

      it('a burst of codes with the right password gets no more than 5 tries: a valid code inside it gets no tokens', async () => {
        const victim = await mfaAccount();
        const codes = Array.from({ length: 40 }, (_, i) => (i === 38 ? victim.recovery : victim.wrong));
        const results = await Promise.all(codes.map((code) => withOtp(victim.username, code)));
        const statuses = results.map((r) => r.statusCode);
        expect(statuses.filter((s) => s === 200), statuses.join()).toEqual([]);
        expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(THRESHOLD);
        expectLocked(await withOtp(victim.username, victim.recovery));
      });

      it('a missing code is not an attack: it does not count toward the lockout', async () => {
        const victim = await mfaAccount();
        for (let i = 0; i < THRESHOLD + 2; i++) expect((await withOtp(victim.username)).json()).toMatchObject({ error: 'mfa_required' });
        expect((await withOtp(victim.username, victim.recovery)).statusCode).toBe(200);
      });
    });

    describe('re-confirming the password on a signed-in session', () => {
      const reconfirm = (access: string, currentPassword?: string) => t.app.inject({
        method: 'PATCH', url: '/api/v1/users/me', remoteAddress: nextIp(), headers: bearer(access),
        payload: { email: `moved-${randomUUID()}@example.com`, ...(currentPassword === undefined ? {} : { current_password: currentPassword }) },
      });

      it('a wrong current_password counts like a failed sign-in: a stolen session cannot guess freely', async () => {
        const victim = await account();
        const { access_token } = await tokenFor(t.app, victim.username);
        for (let i = 0; i < THRESHOLD; i++) expect((await reconfirm(access_token, `guess ${i}`)).statusCode).toBe(403);
        expectLocked(await tokenLogin(t.app, victim.username, PASSWORD));
        expectLocked(await reconfirm(access_token, PASSWORD));
      });

      it('a missing current_password is no guess: refused, but it never locks the owner out', async () => {
        const victim = await account();
        const { access_token } = await tokenFor(t.app, victim.username);
        for (let i = 0; i < THRESHOLD + 2; i++) expect((await reconfirm(access_token)).statusCode).toBe(403);
        expect((await tokenLogin(t.app, victim.username, PASSWORD)).statusCode).toBe(200);
      });
    });

    it('audits each login.failure (with the IP it came from) and the lockout', async () => {
      const victim = await account();
      const ips = await failFromManyIps(t.app, victim.username);
      const failures = await t.app.gatehouse.audit.list({ limit: 50, offset: 0, userId: victim.id, action: 'login.failure' });
      expect(failures.total).toBe(THRESHOLD);
      expect(failures.events.map((e) => e.ip).reverse()).toEqual(ips);
      for (const e of failures.events) expect(e).toMatchObject({ action: 'login.failure', userId: victim.id, outcome: 'failure', userAgent: 'lockout-test' });
      const lockouts = await t.app.gatehouse.audit.list({ limit: 50, offset: 0, userId: victim.id, action: 'lockout' });
      expect(lockouts.events).toHaveLength(1);
      expect(lockouts.events[0]).toMatchObject({ action: 'lockout', userId: victim.id, outcome: 'blocked', ip: ips.at(-1), requestId: expect.any(String) });
      // The stored rows never hold what was typed as the password.
      expect(JSON.stringify([...failures.events, ...lockouts.events])).not.toMatch(/wrong password/);
    });

    if (backend.name === 'redis') {
      it('every lockout key in Redis expires (failure windows, locks, lockout counts)', async () => {
        const redis = redisConnection();
        try {
          const ttls = await ttlsUnder(redis, `${prefix}lock:`);
          expect(Object.keys(ttls).some((k) => k.startsWith(`${prefix}lock:fail:`))).toBe(true);
          expect(Object.keys(ttls).some((k) => k.startsWith(`${prefix}lock:count:`))).toBe(true);
          for (const [key, ttl] of Object.entries(ttls)) {
            expect(ttl, key).toBeGreaterThan(0);
            expect(ttl, key).toBeLessThanOrEqual(15 * 60_000);
          }
        } finally {
          redis.disconnect();
        }
      });
    }

    if (backend.name === 'redis') {
      it('a name that matches no account is not kept in clear: people type passwords into the username box', async () => {
        const typed = `MyP@ssw0rd-Typed-In-${userNo}`;
        expect((await tokenLogin(t.app, typed, 'whatever it was')).statusCode).toBe(401);
        const redis = redisConnection();
        try {
          const keys = await ttlsUnder(redis, `${prefix}lock:fail:name:`);
          expect(Object.keys(keys).length).toBeGreaterThan(0);
          expect(Object.keys(keys).join(' ').toLowerCase()).not.toContain(typed.toLowerCase());
        } finally {
          redis.disconnect();
        }
      });
    }

    it('an unknown username\'s lockout is audited without a user id', async () => {
      const ghost = `nobody${userNo}_${process.pid}`;
      const before = (await t.app.gatehouse.audit.list({ limit: 1, offset: 0, action: 'lockout' })).total;
      await failFromManyIps(t.app, ghost);
      const after = await t.app.gatehouse.audit.list({ limit: 1, offset: 0, action: 'lockout' });
      expect(after.total).toBe(before + 1);
      expect(after.events[0]).toMatchObject({ action: 'lockout', userId: null, outcome: 'blocked' });
    });
  });
}

// Without Redis the counts live in the process: a restart must not hand a locked account back, nor an
// attacker a fresh set of guesses. They are rebuilt from the audit log at start.
describe('account lockout across a restart, in-process state', () => {
  const url = `sqlite:${tempDir()}/lockout-restart.db`;
  const env = { RATE_LIMIT_AUTH: '100000/minute', LOCKOUT_THRESHOLD: String(THRESHOLD), LOCKOUT_WINDOW_MINUTES: '15' };
  const start = async () => testApp({ env, storage: Object.assign(await openStorage(url), { url }) });

  it('a locked account stays locked, and counted failures stay counted', async () => {
    let t = await start();
    await t.app.gatehouse.users.register({ email: 'restarted@example.com', username: 'restarted', password: PASSWORD });
    await t.app.gatehouse.users.register({ email: 'counted@example.com', username: 'counted', password: PASSWORD });
    await failFromManyIps(t.app, 'restarted');
    expectLocked(await tokenLogin(t.app, 'restarted', PASSWORD));
    await failFromManyIps(t.app, 'counted', THRESHOLD - 1);
    await t.close();

    t = await start();
    try {
      const retryAfter = expectLocked(await tokenLogin(t.app, 'restarted', PASSWORD));
      expect(retryAfter).toBeGreaterThan(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expectLocked(await browserLogin(t.app, 'restarted', PASSWORD));
      // Four failures before the restart: the fifth after it still locks.
      expect((await tokenLogin(t.app, 'counted', 'wrong once more')).statusCode).toBe(401);
      expectLocked(await tokenLogin(t.app, 'counted', PASSWORD));
      // Other accounts are unaffected.
      await t.app.gatehouse.users.register({ email: 'fresh@example.com', username: 'fresh', password: PASSWORD });
      expect((await tokenLogin(t.app, 'fresh', PASSWORD)).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('a success before the restart started the count again; locks before it still count toward the doubling', async () => {
    let t = await start();
    await t.app.gatehouse.users.register({ email: 'forgiven@example.com', username: 'forgiven', password: PASSWORD });
    await failFromManyIps(t.app, 'forgiven', THRESHOLD - 1);
    expect((await tokenLogin(t.app, 'forgiven', PASSWORD)).statusCode).toBe(200);
    expect((await tokenLogin(t.app, 'forgiven', 'one wrong after the success')).statusCode).toBe(401);
    // A lock of another account, then its end (its audit time moved back, as the clock would have).
    await t.app.gatehouse.users.register({ email: 'relocked@example.com', username: 'relocked', password: PASSWORD });
    await failFromManyIps(t.app, 'relocked');
    await t.close();
    const moved = await openStorage(url);
    await sql`update audit_events set time = time - 61000 where action = 'lockout'`.execute(moved.handle.db);
    await moved.close();

    t = await start();
    try {
      // One failure on record since the success: four more are answered as themselves, the fifth locks.
      for (let i = 0; i < THRESHOLD - 2; i++) expect((await tokenLogin(t.app, 'forgiven', `wrong ${i}`)).statusCode).toBe(401);
      expect((await tokenLogin(t.app, 'forgiven', PASSWORD)).statusCode).toBe(200);
      // The first lock has ended, but it is remembered: the next lock doubles to 120 s.
      await failFromManyIps(t.app, 'relocked');
      const retryAfter = expectLocked(await tokenLogin(t.app, 'relocked', PASSWORD));
      expect(retryAfter).toBeGreaterThan(60);
      expect(retryAfter).toBeLessThanOrEqual(120);
    } finally {
      await t.close();
    }
  });
});


// Redis may restart empty (this machine's keeps nothing on disk): the counts it held are rebuilt
// from the audit log when the instance reconnects, so a restart of Redis frees no account either.
describe.skipIf(!redisAvailable)('account lockout across a Redis restart', () => {
  const prefix = uniquePrefix('lockrs');
  let t: TestApp;
  let redisLink: TcpProxy;
  beforeAll(async () => {
    const proxied = await proxiedRedis();
    redisLink = proxied.proxy;
    t = await testApp({ env: { RATE_LIMIT_AUTH: '100000/minute', LOCKOUT_THRESHOLD: String(THRESHOLD), LOCKOUT_WINDOW_MINUTES: '15', REDIS_URL: proxied.url, REDIS_KEY_PREFIX: prefix } });
  });
  afterAll(async () => {
    await t?.close();
    await redisLink?.close();
    const redis = redisConnection();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('a locked account stays locked and counted failures stay counted when Redis comes back empty', async () => {
    await t.app.gatehouse.users.register({ email: 'held@example.com', username: 'held', password: PASSWORD });
    await t.app.gatehouse.users.register({ email: 'tally@example.com', username: 'tally', password: PASSWORD });
    await failFromManyIps(t.app, 'held');
    expectLocked(await tokenLogin(t.app, 'held', PASSWORD));
    await failFromManyIps(t.app, 'tally', THRESHOLD - 1);

    // Redis restarts with nothing: its keys are gone and the instance's connection drops.
    await redisLink.cut('refuse');
    const redis = redisConnection();
    try {
      await dropPrefix(redis, prefix);
      expect(await redis.keys(`${prefix}*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    await redisLink.restore();

    const locked = await until(() => tokenLogin(t.app, 'held', PASSWORD), (r) => r.statusCode === 429, 10_000, 'the lock is rebuilt');
    const retryAfter = expectLocked(locked.value);
    expect(retryAfter).toBeGreaterThan(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expectLocked(await browserLogin(t.app, 'held', PASSWORD));
    // Four failures before the restart: the fifth after it still locks.
    expect((await tokenLogin(t.app, 'tally', 'wrong once more')).statusCode).toBe(401);
    expectLocked(await tokenLogin(t.app, 'tally', PASSWORD));
  });
});
