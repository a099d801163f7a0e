// Contract "Rate limits and lockout", the per-IP budgets, on the in-process and the Redis backend
// with the same test bodies: the (N+1)-th counted request in a window is 429 with Retry-After and
// RateLimit-* as bare integers; the auth route families share one budget that no other route
// touches; each client IP (IPv6: each /64) has its own; X-Forwarded-For counts only from a trusted
// proxy; the window lasts 60 s from its first request (fake timers on memory, PTTL on Redis); every
// Redis key expires.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GatehouseApp } from '../../src/app.js';
import { testApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, form } from '../helpers/auth.js';
import { dropPrefix, keysUnder, redisConnection, stateBackends, ttlsUnder, uniquePrefix } from '../helpers/redis.js';

const AUTH = 10;
const DEFAULT = 20;
const LIMITS = { RATE_LIMIT_AUTH: `${AUTH}/minute`, RATE_LIMIT_DEFAULT: `${DEFAULT}/minute`, LOCKOUT_THRESHOLD: '1000' };
const TOO_MANY = { detail: 'Too many requests' };

let counter = 0;
const unique = (label: string) => `${label}${++counter}_${process.pid}`;

/** One request of each auth route family the contract names; each counts against the one auth budget. */
const AUTH_ROUTES: Record<string, { method: 'POST'; url: string; send: (app: GatehouseApp, remoteAddress: string, headers?: Record<string, string>) => Promise<LightMyRequestResponse> }> = {
  register: {
    method: 'POST', url: '/api/v1/auth/register',
    send: (app, remoteAddress, headers = {}) => {
      const username = unique('reg');
      return app.inject({ method: 'POST', url: '/api/v1/auth/register', remoteAddress, headers, payload: { email: `${username}@example.com`, username, password: PASSWORD } });
    },
  },
  token: {
    method: 'POST', url: '/api/v1/auth/token',
    send: (app, remoteAddress, headers = {}) => {
      const body = form({ grant_type: 'password', username: 'alice', password: PASSWORD });
      return app.inject({ method: 'POST', url: '/api/v1/auth/token', remoteAddress, payload: body.payload, headers: { ...body.headers, ...headers } });
    },
  },
  login: {
    method: 'POST', url: '/api/v1/auth/login',
    send: (app, remoteAddress, headers = {}) => app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, headers, payload: { username: 'alice', password: PASSWORD } }),
  },
  'password-reset/request': {
    method: 'POST', url: '/api/v1/auth/password-reset/request',
    send: (app, remoteAddress, headers = {}) => app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', remoteAddress, headers, payload: { email: 'alice@example.com' } }),
  },
  'password-reset/confirm': {
    method: 'POST', url: '/api/v1/auth/password-reset/confirm',
    send: (app, remoteAddress, headers = {}) => app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', remoteAddress, headers, payload: { token: 'x'.repeat(43), new_password: 'another fine passphrase' } }),
  },
};

/** Every auth route family the contract names; each must count against the one auth budget. */
function authRoutes(app: GatehouseApp) {
  for (const r of Object.values(AUTH_ROUTES)) expect(app.hasRoute({ method: r.method, url: r.url }), r.url).toBe(true);
  return Object.entries(AUTH_ROUTES).map(([name, r]) => ({ name, send: r.send }));
}

const bareInt = (value: unknown) => {
  expect(value).toMatch(/^\d+$/);
  return Number(value);
};

function expectRefused(res: LightMyRequestResponse, limit: number, windowSeconds = 60): void {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.json()).toEqual(TOO_MANY);
  const retryAfter = bareInt(res.headers['retry-after']);
  const reset = bareInt(res.headers['ratelimit-reset']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(reset).toBeGreaterThanOrEqual(1);
  expect(reset).toBeLessThanOrEqual(windowSeconds);
  expect(bareInt(res.headers['ratelimit-limit'])).toBe(limit);
  expect(bareInt(res.headers['ratelimit-remaining'])).toBe(0);
}

const allowed = (res: LightMyRequestResponse) => res.statusCode !== 429;

for (const backend of stateBackends) {
  describe.skipIf(!backend.available)(`per-IP budgets on ${backend.name}`, () => {
    const prefix = uniquePrefix('rl');
    let t: TestApp;
    let ip = 0;
    /** A client address no other test in this file has used, so each test starts with full budgets. */
    const freshIp = () => `10.20.${Math.floor(++ip / 250)}.${(ip % 250) + 1}`;

    beforeAll(async () => {
      t = await testApp({ env: { ...LIMITS, ...backend.env(prefix) } });
      await t.app.gatehouse.users.register({ email: 'alice@example.com', username: 'alice', password: PASSWORD });
    });
    afterAll(async () => {
      await t?.close();
      if (backend.name === 'redis') {
        const redis = redisConnection();
        await dropPrefix(redis, prefix);
        redis.disconnect();
      }
    });

    it(`the auth families share one budget of ${AUTH}: 6 register + 4 token, then the 11th of any is 429`, async () => {
      const client = freshIp();
      const routes = authRoutes(t.app);
      const statuses: number[] = [];
      const remaining: number[] = [];
      for (let i = 0; i < AUTH; i++) {
        const route = i < 6 ? AUTH_ROUTES.register! : AUTH_ROUTES.token!;
        const res = await route.send(t.app, client);
        statuses.push(res.statusCode);
        remaining.push(bareInt(res.headers['ratelimit-remaining']));
        expect(bareInt(res.headers['ratelimit-limit'])).toBe(AUTH);
      }
      expect(statuses).toEqual([201, 201, 201, 201, 201, 201, 200, 200, 200, 200]);
      expect(remaining).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      for (const route of routes) expectRefused(await route.send(t.app, client), AUTH);
    });

    it('all five auth families in turn (register, token, login, password-reset request and confirm) share the budget', async () => {
      const client = freshIp();
      const routes = authRoutes(t.app);
      const remaining: number[] = [];
      for (let i = 0; i < AUTH; i++) {
        const res = await routes[i % routes.length]!.send(t.app, client);
        expect(res.statusCode, `${routes[i % routes.length]!.name}: ${res.body}`).not.toBe(429);
        remaining.push(Number(res.headers['ratelimit-remaining']));
      }
      expect(remaining).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      for (const route of routes) expectRefused(await route.send(t.app, client), AUTH);
    });

    it('each auth family alone also counts against the shared budget', async () => {
      for (const route of authRoutes(t.app)) {
        const client = freshIp();
        for (let i = 0; i < AUTH; i++) expect(allowed(await route.send(t.app, client)), `${route.name} #${i + 1}`).toBe(true);
        // The 11th request, whichever family it goes to, is refused.
        for (const other of authRoutes(t.app)) expectRefused(await other.send(t.app, client), AUTH);
      }
    });

    it('the 429 comes before validation and authentication: a malformed auth request counts too', async () => {
      const client = freshIp();
      for (let i = 0; i < AUTH; i++) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', remoteAddress: client, payload: { nonsense: true } });
        expect(res.statusCode).toBe(422);
      }
      expectRefused(await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', remoteAddress: client, payload: { nonsense: true } }), AUTH);
    });

    it('other routes never consume the auth budget (refresh, logout, profile, 404, health probes)', async () => {
      const client = freshIp();
      const others = [
        { method: 'POST' as const, url: '/api/v1/auth/refresh', payload: { refresh_token: 'r'.repeat(43) } },
        { method: 'POST' as const, url: '/api/v1/auth/logout' },
        { method: 'GET' as const, url: '/api/v1/users/me' },
        { method: 'GET' as const, url: '/api/v1/no-such-route' },
      ];
      for (let i = 0; i < 3; i++) {
        for (const o of others) expect((await t.app.inject({ ...o, remoteAddress: client })).statusCode).not.toBe(429);
      }
      for (let i = 0; i < 15; i++) {
        expect((await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: client })).statusCode).toBe(200);
        expect((await t.app.inject({ method: 'GET', url: '/readyz', remoteAddress: client })).statusCode).toBe(200);
      }
      const first = await AUTH_ROUTES.token!.send(t.app, client);
      expect(first.statusCode).toBe(200);
      expect(first.headers['ratelimit-remaining']).toBe(String(AUTH - 1));
    });

    it(`the default budget is ${DEFAULT} a minute; /healthz and /readyz are exempt and carry no limit headers`, async () => {
      const client = freshIp();
      for (let i = 0; i < DEFAULT; i++) {
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', remoteAddress: client });
        expect(res.statusCode).toBe(401);
        expect(res.headers['ratelimit-remaining']).toBe(String(DEFAULT - 1 - i));
      }
      const refused = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', remoteAddress: client });
      expectRefused(refused, DEFAULT);
      // A 404 counts against the default budget too (no free probing of unknown paths).
      expectRefused(await t.app.inject({ method: 'GET', url: '/api/v1/nowhere', remoteAddress: client }), DEFAULT);
      for (const url of ['/healthz', '/readyz']) {
        const probe = await t.app.inject({ method: 'GET', url, remoteAddress: client });
        expect(probe.statusCode).toBe(200);
        expect(probe.headers['ratelimit-limit']).toBeUndefined();
      }
      // The auth budget of the same client is untouched by all of that.
      expect((await AUTH_ROUTES.token!.send(t.app, client)).headers['ratelimit-remaining']).toBe(String(AUTH - 1));
    });

    it('another client IP has its own budget', async () => {
      const [a, b] = [freshIp(), freshIp()];
      for (let i = 0; i < AUTH; i++) await AUTH_ROUTES.token!.send(t.app, a);
      expectRefused(await AUTH_ROUTES.token!.send(t.app, a), AUTH);
      const other = await AUTH_ROUTES.token!.send(t.app, b);
      expect(other.statusCode).toBe(200);
      expect(other.headers['ratelimit-remaining']).toBe(String(AUTH - 1));
    });

    it('a spoofed X-Forwarded-For from an untrusted peer buys no fresh budget', async () => {
      const client = freshIp();
      for (let i = 0; i < AUTH; i++) {
        const res = await AUTH_ROUTES.token!.send(t.app, client, { 'x-forwarded-for': `203.0.113.${i + 1}` });
        expect(res.statusCode).toBe(200);
      }
      for (const spoof of ['198.51.100.7', '198.51.100.8, 198.51.100.9', '2001:db8::1']) {
        expectRefused(await AUTH_ROUTES.token!.send(t.app, client, { 'x-forwarded-for': spoof, 'x-real-ip': spoof }), AUTH);
      }
    });

    it('IPv6 clients are counted by /64: addresses in one /64 share a budget, the next /64 has its own', async () => {
      const block = ['2001:db8:aa:1::1', '2001:db8:aa:1::2', '2001:db8:aa:1:ffff:ffff:ffff:fffe', '2001:db8:aa:1:1234::9', '2001:db8:aa:1:0:0:0:3'];
      for (let i = 0; i < AUTH; i++) expect((await AUTH_ROUTES.token!.send(t.app, block[i % block.length]!)).statusCode).toBe(200);
      for (const address of block) expectRefused(await AUTH_ROUTES.token!.send(t.app, address), AUTH);
      const neighbour = await AUTH_ROUTES.token!.send(t.app, '2001:db8:aa:2::1');
      expect(neighbour.statusCode).toBe(200);
      expect(neighbour.headers['ratelimit-remaining']).toBe(String(AUTH - 1));
    });

    it('an IPv4-mapped IPv6 peer is the same client as its IPv4 address', async () => {
      const v4 = freshIp();
      for (let i = 0; i < AUTH; i++) await AUTH_ROUTES.token!.send(t.app, i % 2 ? v4 : `::ffff:${v4}`);
      expectRefused(await AUTH_ROUTES.token!.send(t.app, v4), AUTH);
      expectRefused(await AUTH_ROUTES.token!.send(t.app, `::ffff:${v4}`), AUTH);
    });

    if (backend.name === 'memory') {
      describe('the window (fake timers for Date and timers)', () => {
        afterEach(() => {
          vi.useRealTimers();
        });

        it('lasts 60 s from its first request: still refused at 59 s, a fresh budget after 60 s', async () => {
          vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
          const client = freshIp();
          for (let i = 0; i < AUTH; i++) expect((await AUTH_ROUTES.token!.send(t.app, client)).statusCode).toBe(200);
          const refused = await AUTH_ROUTES.token!.send(t.app, client);
          expectRefused(refused, AUTH);
          // Time stands still but for what the test moves: the window is exactly 60 s from the first request.
          expect(refused.headers['retry-after']).toBe('60');
          vi.advanceTimersByTime(58_500);
          const late = await AUTH_ROUTES.token!.send(t.app, client);
          expectRefused(late, AUTH);
          expect(late.headers['retry-after']).toBe('2');
          expect(late.headers['ratelimit-reset']).toBe('2');
          vi.advanceTimersByTime(1_400);
          expectRefused(await AUTH_ROUTES.token!.send(t.app, client), AUTH);
          vi.advanceTimersByTime(100);
          const fresh = await AUTH_ROUTES.token!.send(t.app, client);
          expect(fresh.statusCode).toBe(200);
          expect(fresh.headers['ratelimit-remaining']).toBe(String(AUTH - 1));
        });

        it('is not a refilling bucket: requests spread over the window do not earn extra budget', async () => {
          vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
          const client = freshIp();
          for (let i = 0; i < AUTH; i++) {
            expect((await AUTH_ROUTES.token!.send(t.app, client)).statusCode).toBe(200);
            vi.advanceTimersByTime(5_000);
          }
          // 50 s after the first request: a refilling bucket would have room again by now.
          expectRefused(await AUTH_ROUTES.token!.send(t.app, client), AUTH);
        });
      });
    }

    if (backend.name === 'redis') {
      const counterKey = (client: string) => `${prefix}rl:auth:${client}`;

      it('the counter lives in Redis under the prefix and expires with the window (PTTL ≤ 60 s)', async () => {
        const redis = redisConnection();
        try {
          const client = freshIp();
          const first = await AUTH_ROUTES.token!.send(t.app, client);
          expect(first.statusCode).toBe(200);
          const keys = await keysUnder(redis, counterKey(client));
          expect(keys).toHaveLength(1);
          expect(await redis.get(keys[0]!)).toBe('1');
          const pttl = await redis.pttl(keys[0]!);
          expect(pttl).toBeGreaterThan(50_000);
          expect(pttl).toBeLessThanOrEqual(60_000);
          for (let i = 1; i < AUTH; i++) await AUTH_ROUTES.token!.send(t.app, client);
          expectRefused(await AUTH_ROUTES.token!.send(t.app, client), AUTH);
          // Counting on does not push the expiry out: the window is fixed at its first request.
          expect(await redis.pttl(keys[0]!)).toBeLessThanOrEqual(pttl);
          // Let Redis expire the window now (what 60 s would do), then the budget is fresh.
          await redis.pexpire(keys[0]!, 1);
          await expect.poll(() => redis.exists(keys[0]!), { timeout: 2000, interval: 10 }).toBe(0);
          const fresh = await AUTH_ROUTES.token!.send(t.app, client);
          expect(fresh.statusCode).toBe(200);
          expect(fresh.headers['ratelimit-remaining']).toBe(String(AUTH - 1));
        } finally {
          redis.disconnect();
        }
      });

      it('a second app on the same Redis prefix shares the budget (one budget behind one address)', async () => {
        const other = await testApp({ env: { ...LIMITS, ...backend.env(prefix) } });
        try {
          const client = freshIp();
          for (let i = 0; i < AUTH; i++) {
            const app = i % 2 ? other.app : t.app;
            const res = await AUTH_ROUTES.register!.send(app, client);
            expect(res.statusCode).not.toBe(429);
          }
          expectRefused(await AUTH_ROUTES.register!.send(t.app, client), AUTH);
          expectRefused(await AUTH_ROUTES.register!.send(other.app, client), AUTH);
        } finally {
          await other.close();
        }
      });

      it('every key the app created under its prefix has a TTL', async () => {
        const redis = redisConnection();
        try {
          const ttls = await ttlsUnder(redis, prefix);
          expect(Object.keys(ttls).length).toBeGreaterThan(5);
          for (const [key, ttl] of Object.entries(ttls)) expect(ttl, key).toBeGreaterThan(0);
        } finally {
          redis.disconnect();
        }
      });
    }
  });

  describe.skipIf(!backend.available)(`behind a trusted proxy on ${backend.name}`, () => {
    const prefix = uniquePrefix('rlp');
    const PROXY = '10.99.0.1';
    let t: TestApp;
    beforeAll(async () => {
      t = await testApp({ env: { ...LIMITS, TRUST_PROXY: `${PROXY}/32`, ...backend.env(prefix) } });
      await t.app.gatehouse.users.register({ email: 'alice@example.com', username: 'alice', password: PASSWORD });
    });
    afterAll(async () => {
      await t?.close();
      if (backend.name === 'redis') {
        const redis = redisConnection();
        await dropPrefix(redis, prefix);
        redis.disconnect();
      }
    });

    it('counts the client the trusted proxy reports, whatever the client put to the left of it', async () => {
      for (let i = 0; i < AUTH; i++) {
        const res = await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': `192.0.2.${i + 1}, 198.51.100.20` });
        expect(res.statusCode).toBe(200);
      }
      expectRefused(await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': '198.51.100.20' }), AUTH);
      expectRefused(await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': '192.0.2.200, 198.51.100.20' }), AUTH);
    });

    it('another client behind the same proxy has its own budget; the proxy\'s own address is not the client', async () => {
      const res = await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': '198.51.100.21' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-remaining']).toBe(String(AUTH - 1));
    });

    it('a port the proxy appends to the client\'s address (IPv4 or bracketed IPv6) buys no fresh budget', async () => {
      for (const [client, spellings] of [['198.51.100.40', (i: number) => `198.51.100.40:${40000 + i}`], ['2001:db8:5::1', (i: number) => `[2001:db8:5::1]:${40000 + i}`]] as const) {
        for (let i = 0; i < AUTH; i++) {
          const res = await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': spellings(i) });
          expect(res.statusCode, client).toBe(200);
        }
        expectRefused(await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': spellings(99) }), AUTH);
        expectRefused(await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': client }), AUTH);
      }
    });

    it('a forwarded value that is no IP address is no client: every such spelling shares the proxy\'s one budget', async () => {
      for (let i = 0; i < AUTH; i++) {
        const res = await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': `garbage${i}` });
        expect(res.statusCode).toBe(200);
      }
      expectRefused(await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': 'unknown' }), AUTH);
      expectRefused(await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': '_hidden, ' }), AUTH);
      // A real client behind the proxy still has its own.
      expect((await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': '198.51.100.50' })).statusCode).toBe(200);
    });

    it('an untrusted peer sending X-Forwarded-For is counted as itself', async () => {
      const peer = '10.99.0.2';
      for (let i = 0; i < AUTH; i++) await AUTH_ROUTES.token!.send(t.app, peer, { 'x-forwarded-for': `198.51.100.${30 + i}` });
      expectRefused(await AUTH_ROUTES.token!.send(t.app, peer, { 'x-forwarded-for': '198.51.100.99' }), AUTH);
      // …and did not spend the budgets of the addresses it named.
      expect((await AUTH_ROUTES.token!.send(t.app, PROXY, { 'x-forwarded-for': '198.51.100.30' })).headers['ratelimit-remaining']).toBe(String(AUTH - 1));
    });
  });
}
