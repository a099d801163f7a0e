// Contract "Operations", Redis going away under a running app (REDIS_URL through a TCP proxy we cut,
// refused or black-holed): within 2 s /readyz answers 503; the auth routes, whose shared budget
// cannot be counted, answer a bare 503 fast (fail closed) and never hang; ordinary routes keep
// working on in-process limits; and the same process serves normally again within 10 s of the
// restore — also when the connections from before the outage stay silent for good.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatehouseApp } from '../../src/app.js';
import { testApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, bearer, form, type TokenPair } from '../helpers/auth.js';
import { dropPrefix, proxiedRedis, redisAvailable, redisConnection, uniquePrefix, until } from '../helpers/redis.js';
import type { CutMode, TcpProxy } from '../helpers/tcp-proxy.js';

const NOTICE_MS = 2000;
const ANSWER_MS = 5000;
const RECOVER_MS = 10_000;
const DEFAULT_BUDGET = 30;
const UNAVAILABLE = { detail: 'Service temporarily unavailable' };
const LEAKS = /stack|node_modules|\.ts\b|\.js\b|\bat \S+ \(|redis|ioredis|ECONN|timed out|timeout|stream|connection/i;

describe.skipIf(!redisAvailable)('Redis outage through a TCP proxy', () => {
  const prefix = uniquePrefix('outage');
  let proxy: TcpProxy;
  let t: TestApp;
  let pair: TokenPair;
  let ipNo = 0;
  const nextIp = () => `203.0.113.${++ipNo}`;

  async function timed(work: () => Promise<LightMyRequestResponse>): Promise<{ res: LightMyRequestResponse; ms: number }> {
    const started = performance.now();
    const res = await work();
    return { res, ms: performance.now() - started };
  }

  const authRequests: Record<string, (app: GatehouseApp, ip: string) => Promise<LightMyRequestResponse>> = {
    token: (app, ip) => {
      const body = form({ grant_type: 'password', username: 'alice', password: PASSWORD });
      return app.inject({ method: 'POST', url: '/api/v1/auth/token', remoteAddress: ip, payload: body.payload, headers: body.headers });
    },
    login: (app, ip) => app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: ip, payload: { username: 'alice', password: PASSWORD } }),
    register: (app, ip) => app.inject({ method: 'POST', url: '/api/v1/auth/register', remoteAddress: ip, payload: { username: `u${ipNo}x${Date.now()}`, email: `u${ipNo}x${Date.now()}@example.com`, password: PASSWORD } }),
  };

  beforeAll(async () => {
    const proxied = await proxiedRedis();
    proxy = proxied.proxy;
    t = await testApp({ env: { REDIS_URL: proxied.url, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_AUTH: '1000/minute', RATE_LIMIT_DEFAULT: `${DEFAULT_BUDGET}/minute` } });
    await t.app.gatehouse.users.register({ email: 'alice@example.com', username: 'alice', password: PASSWORD });
    const res = await authRequests.token!(t.app, nextIp());
    expect(res.statusCode, res.body).toBe(200);
    pair = res.json<TokenPair>();
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    const redis = redisConnection();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  async function expectServing(): Promise<void> {
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode, ready.body).toBe(200);
    for (const [name, send] of Object.entries(authRequests)) expect((await send(t.app, nextIp())).statusCode, name).toBeLessThan(300);
    const profile = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', remoteAddress: nextIp(), headers: bearer(pair.access_token) });
    expect(profile.statusCode).toBe(200);
    expect(profile.headers['ratelimit-limit']).toBe(String(DEFAULT_BUDGET));
  }

  it('serves normally while Redis answers through the proxy', async () => {
    await expectServing();
    expect(proxy.openConnections()).toBeGreaterThanOrEqual(2);
  });

  const cases: { mode: CutMode; stale: 'reset' | 'hang' }[] = [
    { mode: 'refuse', stale: 'reset' },
    { mode: 'blackhole', stale: 'reset' },
    { mode: 'blackhole', stale: 'hang' },
  ];
  for (const { mode, stale } of cases) {
    describe(`${mode}${mode === 'blackhole' ? `, then restored with the old connections ${stale === 'hang' ? 'silent for good' : 'reset'}` : ''}`, () => {
      it('/readyz is 503 within 2 s, naming redis, each answer in under 5 s', async () => {
        await proxy.cut(mode);
        const slowest: number[] = [];
        const { value, at } = await until(async () => {
          const r = await timed(() => t.app.inject({ method: 'GET', url: '/readyz' }));
          slowest.push(r.ms);
          return r.res;
        }, (r) => r.statusCode === 503, NOTICE_MS, '/readyz 503');
        expect(at).toBeLessThan(NOTICE_MS);
        expect(Math.max(...slowest)).toBeLessThan(ANSWER_MS);
        expect(value.json()).toEqual({ detail: 'Service temporarily unavailable', failing: ['redis'] });
        expect(value.headers['content-type']).toBe('application/json; charset=utf-8');
      });

      it('the auth routes fail closed: a bare 503 in under 5 s, never a hang, never a token', async () => {
        for (const [name, send] of Object.entries(authRequests)) {
          for (let i = 0; i < 3; i++) {
            const { res, ms } = await timed(() => send(t.app, nextIp()));
            expect(ms, name).toBeLessThan(ANSWER_MS);
            expect(res.statusCode, `${name}: ${res.body}`).toBe(503);
            expect(res.json()).toEqual(UNAVAILABLE);
            expect(res.headers['retry-after']).toBe('5');
            expect(res.body).not.toMatch(LEAKS);
            expect(res.headers['set-cookie']).toBeUndefined();
          }
        }
      });

      it('ordinary routes keep working on in-process limits (and those limits still hold)', async () => {
        const client = nextIp();
        for (let i = 0; i < DEFAULT_BUDGET; i++) {
          const { res, ms } = await timed(() => t.app.inject({ method: 'GET', url: '/api/v1/users/me', remoteAddress: client, headers: bearer(pair.access_token) }));
          expect(ms).toBeLessThan(ANSWER_MS);
          expect(res.statusCode, res.body).toBe(200);
          expect(res.json()).toMatchObject({ username: 'alice' });
        }
        const over = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', remoteAddress: client, headers: bearer(pair.access_token) });
        expect(over.statusCode).toBe(429);
        expect(over.headers['retry-after']).toMatch(/^\d+$/);
        expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      });

      it('normal service again within 10 s of the restore', async () => {
        const restoredAt = performance.now();
        await proxy.restore({ stale });
        await until(() => t.app.inject({ method: 'GET', url: '/readyz' }), (r) => r.statusCode === 200, RECOVER_MS, '/readyz 200 again');
        await until(() => authRequests.token!(t.app, nextIp()), (r) => r.statusCode === 200, RECOVER_MS, 'sign-in works again');
        expect(performance.now() - restoredAt).toBeLessThan(RECOVER_MS);
        await expectServing();
        // Counting is back on Redis: the keys appear under the prefix again.
        const redis = redisConnection();
        try {
          const client = nextIp();
          await authRequests.token!(t.app, client);
          expect(await redis.exists(`${prefix}rl:auth:${client}`)).toBe(1);
        } finally {
          redis.disconnect();
        }
      });
    });
  }
});
