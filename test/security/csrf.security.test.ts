// Contract "Browser sessions (cookies)": a cookie-authenticated POST/PATCH/DELETE needs X-CSRF-Token
// equal to the csrf cookie and bound to the session (else 403, and nothing changes); bearer and
// API-key requests are exempt; a mutating HX-Request needs an exact allowed (or own) Origin.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, register, tokenFor } from '../helpers/auth.js';
import { browserLogin, type BrowserLogin } from '../helpers/browser-session.js';

const CSRF_FAILED = { detail: 'CSRF token missing or invalid' };
const ORIGIN_REJECTED = { detail: 'Origin not allowed' };

let t: TestApp;
let alice: BrowserLogin;
let aliceOther: BrowserLogin;
let bob: BrowserLogin;
beforeAll(async () => {
  t = await authApp();
  await register(t.app, { username: 'alice', full_name: 'Alice' });
  await register(t.app, { username: 'bob' });
  alice = await browserLogin(t.app, 'alice');
  aliceOther = await browserLogin(t.app, 'alice');
  bob = await browserLogin(t.app, 'bob');
});
afterAll(() => t?.close());

type Mutation = { method: 'POST' | 'PATCH' | 'DELETE'; url: string; payload?: Record<string, unknown> };

/** One request of each mutating method a browser session makes, each harmless to repeat once refused. */
function mutations(): Mutation[] {
  return [
    { method: 'PATCH', url: '/api/v1/users/me', payload: { full_name: 'Mallory was here' } },
    { method: 'POST', url: '/api/v1/auth/logout-all' },
    { method: 'DELETE', url: `/api/v1/auth/sessions/${encodeURIComponent(sessionOf(aliceOther))}` },
  ];
}

function sessionOf(login: BrowserLogin): string {
  const jwt = login.jar.get('access_token')!;
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).sid as string;
}

function send(m: Mutation, cookie: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: m.method, url: m.url, headers: { cookie, ...headers }, ...(m.payload ? { payload: m.payload } : {}) });
}

async function expectNothingChanged(): Promise<void> {
  const user = (await t.storage.users.findByLogin('alice'))!;
  expect(user.fullName).toBe('Alice');
  const live = (await t.app.gatehouse.sessions.list(user.id)).map((s) => s.id).sort();
  expect(live).toEqual([sessionOf(alice), sessionOf(aliceOther)].sort());
}

describe('cookie-authenticated mutations need the session\'s CSRF token', () => {
  it('without X-CSRF-Token: 403 on POST, PATCH and DELETE, and nothing changes', async () => {
    for (const m of mutations()) {
      const res = await send(m, alice.jar.header());
      expect(res.statusCode, `${m.method} ${m.url}`).toBe(403);
      expect(res.json()).toEqual(CSRF_FAILED);
    }
    await expectNothingChanged();
  });

  it('with a wrong token, or a token but no csrf cookie: 403', async () => {
    for (const m of mutations()) {
      for (const [cookie, token] of [
        [alice.jar.header(), 'A'.repeat(43)],
        [alice.jar.header(), alice.csrf.slice(0, -1)],
        [alice.jar.header(), ''],
        [alice.jar.header('access_token'), alice.csrf],
      ] as const) {
        const res = await send(m, cookie, { 'x-csrf-token': token });
        expect(res.statusCode, `${m.method} ${m.url} ${token}`).toBe(403);
        expect(res.json()).toEqual(CSRF_FAILED);
      }
    }
    await expectNothingChanged();
  });

  it('with another session\'s valid token: 403, even when the attacker also plants that session\'s csrf cookie', async () => {
    for (const m of mutations()) {
      for (const other of [bob, aliceOther]) {
        const mismatched = await send(m, alice.jar.header(), { 'x-csrf-token': other.csrf });
        expect(mismatched.statusCode).toBe(403);
        // Double submit alone would pass here (header equals cookie); the binding to the session does not.
        const planted = await send(m, `access_token=${alice.jar.get('access_token')}; csrf_token=${other.csrf}`, { 'x-csrf-token': other.csrf });
        expect(planted.statusCode, `${m.method} ${m.url}`).toBe(403);
        expect(planted.json()).toEqual(CSRF_FAILED);
      }
    }
    await expectNothingChanged();
  });

  it('with this session\'s token: the request goes through', async () => {
    const res = await send(mutations()[0]!, alice.jar.header(), { 'x-csrf-token': alice.csrf });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ full_name: 'Mallory was here' });
    const restored = await send({ method: 'PATCH', url: '/api/v1/users/me', payload: { full_name: 'Alice' } }, alice.jar.header(), { 'x-csrf-token': alice.csrf });
    expect(restored.statusCode).toBe(200);
  });

  it('safe methods need no token', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { cookie: alice.jar.header() } });
    expect(res.statusCode).toBe(200);
  });
});

describe('bearer and API-key requests are not subject to CSRF', () => {
  it('a bearer PATCH without X-CSRF-Token succeeds, even with session cookies alongside', async () => {
    const pair = await tokenFor(t.app, 'bob');
    const res = await t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: { ...bearer(pair.access_token), cookie: bob.jar.header() }, payload: { full_name: 'Bob by bearer' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ full_name: 'Bob by bearer' });
  });

  it('an API-key PATCH without X-CSRF-Token succeeds', async () => {
    const pair = await tokenFor(t.app, 'bob');
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: bearer(pair.access_token), payload: { name: 'ci', scopes: ['profile:read', 'profile:write'] } });
    expect(created.statusCode, created.body).toBe(201);
    const res = await t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: { 'x-api-key': created.json<{ key: string }>().key }, payload: { full_name: 'Bob by key' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ full_name: 'Bob by key' });
  });
});

describe('HTMX: a mutating HX-Request needs an exact allowed or own Origin', () => {
  // ALLOWED_ORIGINS defaults to http://localhost:3000 and http://localhost:8000.
  const htmx = (origin: string | undefined, host?: string) => t.app.inject({
    method: 'PATCH', url: '/api/v1/users/me', payload: { full_name: 'Via htmx' },
    headers: { cookie: alice.jar.header(), 'x-csrf-token': alice.csrf, 'hx-request': 'true', ...(origin === undefined ? {} : { origin }), ...(host ? { host } : {}) },
  });

  it('a prefix trick, a path or credentials in the Origin, a missing Origin or "null": 403, nothing changed', async () => {
    for (const origin of ['http://localhost:8000.evil.net', 'http://localhost:80001', 'http://localhost:8000/', 'http://localhost:8000@evil.net', 'https://localhost:8000', 'null', undefined]) {
      const res = await htmx(origin);
      expect(res.statusCode, String(origin)).toBe(403);
      expect(res.json()).toEqual(ORIGIN_REJECTED);
    }
    await expectNothingChanged();
  });

  it('an allowed origin, or the server\'s own origin, passes', async () => {
    expect((await htmx('http://localhost:8000')).statusCode).toBe(200);
    expect((await htmx('http://localhost:3000')).statusCode).toBe(200);
    expect((await htmx('http://gate.test:9000', 'gate.test:9000')).statusCode).toBe(200);
    expect((await htmx(t.config.publicUrl)).statusCode).toBe(200);
    // Own origin means this Host: another host's origin is foreign.
    expect((await htmx('http://gate.test:9000', 'other.test:9000')).statusCode).toBe(403);
  });

  it('the check comes before authentication and CSRF: a bearer HX-Request from a foreign origin is refused too', async () => {
    const pair = await tokenFor(t.app, 'bob');
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { ...bearer(pair.access_token), 'hx-request': 'true', origin: 'https://evil.example' } });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual(ORIGIN_REJECTED);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(pair.access_token) })).statusCode).toBe(200);
  });

  it('routing errors still come first: an unknown path is 404 and a known path with another method 405, whatever the Origin', async () => {
    for (const origin of ['https://evil.example', undefined]) {
      const headers = { 'hx-request': 'true', ...(origin ? { origin } : {}) };
      const unknown = await t.app.inject({ method: 'POST', url: '/account/no-such-page', headers });
      expect(unknown.statusCode, String(origin)).toBe(404);
      const wrongMethod = await t.app.inject({ method: 'DELETE', url: '/healthz', headers });
      expect(wrongMethod.statusCode, String(origin)).toBe(405);
      expect((await t.app.inject({ method: 'POST', url: '/api/v1/no-such-route', headers })).statusCode, String(origin)).toBe(404);
    }
  });

  it('any HX-Request value counts, not only "true": TRUE, 1, a repeated header from a foreign origin are 403', async () => {
    const before = (await t.storage.users.findByLogin('alice'))!.fullName;
    for (const value of ['TRUE', 'True', '1', 'true, true']) {
      const res = await t.app.inject({
        method: 'PATCH', url: '/api/v1/users/me', payload: { full_name: 'Via a sloppy htmx check' },
        headers: { cookie: alice.jar.header(), 'x-csrf-token': alice.csrf, 'hx-request': value, origin: 'https://evil.example' },
      });
      expect(res.statusCode, JSON.stringify(value)).toBe(403);
    }
    expect((await t.storage.users.findByLogin('alice'))!.fullName).toBe(before);
  });

  it('a safe HX-Request needs no Origin', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { cookie: alice.jar.header(), 'hx-request': 'true' } });
    expect(res.statusCode).toBe(200);
  });
});

describe('HTMX with PUBLIC_URL set: the server\'s own origin is that one, never whatever Host says', () => {
  let own: TestApp;
  beforeAll(async () => {
    own = await authApp({ env: { PUBLIC_URL: 'http://gate.test:9000' } });
  });
  afterAll(() => own?.close());

  it('an Origin matching a Host the client chose (DNS rebinding) is foreign; PUBLIC_URL and ALLOWED_ORIGINS pass', async () => {
    const htmx = (origin: string, host: string) => own.app.inject({
      method: 'POST', url: '/api/v1/auth/logout', headers: { 'hx-request': 'true', origin, host },
    });
    const rebound = await htmx('http://evil.test:9000', 'evil.test:9000');
    expect(rebound.statusCode).toBe(403);
    expect(rebound.json()).toEqual(ORIGIN_REJECTED);
    // Past the origin check, an unauthenticated logout is its usual answer (not 403).
    expect((await htmx('http://gate.test:9000', 'evil.test:9000')).statusCode).not.toBe(403);
    expect((await htmx('http://localhost:8000', 'evil.test:9000')).statusCode).not.toBe(403);
  });
});
