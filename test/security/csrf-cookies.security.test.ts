// The session cookies themselves: production names and attributes (__Host-/__Secure-, Secure, the
// Path), clearing that repeats them, only prefixed names read in production; refresh through the
// cookie rotates it (the old one is then reuse and ends the session); and a browser whose access
// cookie has expired still signs out with its refresh cookie.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import type { TestApp } from '../helpers/app.js';
import { authApp, PASSWORD, register } from '../helpers/auth.js';
import { browserLogin, CookieJar, setCookies } from '../helpers/browser-session.js';
import { databaseTargets } from '../helpers/databases.js';

describe('in production', () => {
  let t: TestApp;
  // Behind a TLS-terminating proxy on loopback (inject's peer), so requests count as HTTPS.
  const https = { 'x-forwarded-proto': 'https', host: 'gate.example.com' };
  beforeAll(async () => {
    t = await authApp({ env: { ENVIRONMENT: 'production', TRUST_PROXY: 'loopback', ALLOWED_ORIGINS: 'https://app.example.com', PUBLIC_URL: 'https://gate.example.com' } });
    await t.app.gatehouse.users.register({ username: 'pat', email: 'pat@example.com', password: PASSWORD });
  });
  afterAll(() => t?.close());

  it('login sets __Host-access_token, __Secure-refresh_token and __Host-csrf_token with Secure and the right Path, no Domain', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: https, payload: { username: 'pat', password: PASSWORD } });
    expect(res.statusCode, res.body).toBe(200);
    const byName = Object.fromEntries(setCookies(res).map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['__Host-access_token', '__Host-csrf_token', '__Secure-refresh_token']);
    expect(byName['__Host-access_token']!.attributes).toMatchObject({ path: '/', secure: '', httponly: '', samesite: 'Lax' });
    expect(byName['__Secure-refresh_token']!.attributes).toMatchObject({ path: '/api/v1/auth', secure: '', httponly: '', samesite: 'Strict' });
    expect(byName['__Host-csrf_token']!.attributes).toMatchObject({ path: '/', secure: '' });
    expect(byName['__Host-csrf_token']!.attributes.httponly).toBeUndefined();
    for (const c of Object.values(byName)) expect(c.attributes.domain, c.name).toBeUndefined();
    expect(byName['__Host-csrf_token']!.value).toBe(res.json().csrf_token);
  });

  it('only the prefixed names are read: an unprefixed access_token (even a valid one) is ignored', async () => {
    const login = await browserLogin(t.app, 'pat', undefined, https);
    const jwt = login.jar.get('__Host-access_token')!;
    const prefixed = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { ...https, cookie: `__Host-access_token=${jwt}` } });
    expect(prefixed.statusCode).toBe(200);
    const plain = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { ...https, cookie: `access_token=${jwt}` } });
    expect(plain.statusCode).toBe(401);
    expect(plain.json()).toEqual({ detail: 'Not authenticated' });
    // A planted unprefixed csrf cookie does not stand in for the __Host- one.
    const planted = await t.app.inject({
      method: 'PATCH', url: '/api/v1/users/me', payload: { full_name: 'x' },
      headers: { ...https, cookie: `__Host-access_token=${jwt}; csrf_token=${login.csrf}`, 'x-csrf-token': login.csrf },
    });
    expect(planted.statusCode).toBe(403);
    // Nor does an unprefixed refresh cookie refresh anything.
    const refresh = await t.app.inject({
      method: 'POST', url: '/api/v1/auth/refresh',
      headers: { ...https, cookie: `refresh_token=${login.jar.get('__Secure-refresh_token')}; ${login.jar.header('__Host-csrf_token')}`, 'x-csrf-token': login.csrf },
    });
    expect(refresh.statusCode).toBe(401);
  });

  for (const path of ['/api/v1/auth/logout', '/api/v1/auth/logout-all']) it(`${path.slice(13)} clears every cookie with the same Secure and Path it was set with`, async () => {
    const login = await browserLogin(t.app, 'pat', undefined, https);
    const res = await t.app.inject({ method: 'POST', url: path, headers: { ...https, cookie: login.jar.header(), 'x-csrf-token': login.csrf } });
    expect(res.statusCode, res.body).toBe(204);
    const cleared = Object.fromEntries(setCookies(res).map((c) => [c.name, c]));
    expect(Object.keys(cleared).sort()).toEqual(['__Host-access_token', '__Host-csrf_token', '__Secure-refresh_token']);
    for (const c of Object.values(cleared)) {
      expect(c.value, c.name).toBe('');
      expect(c.attributes['secure'], c.name).toBe('');
      expect(c.attributes['max-age'], c.name).toBe('0');
    }
    expect(cleared['__Secure-refresh_token']!.attributes.path).toBe('/api/v1/auth');
    expect(cleared['__Host-access_token']!.attributes.path).toBe('/');
    expect(cleared['__Host-csrf_token']!.attributes.path).toBe('/');
  });
});

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`cookie refresh and logout on ${target.name}`, () => {
    let t: TestApp;
    const clock = new FakeClock();
    beforeAll(async () => {
      t = await authApp({ storage: await target.open(), clock });
      await register(t.app, { username: 'robin' });
    });
    afterAll(() => t?.close());

    const refresh = (jar: CookieJar, csrf: string | undefined) => t.app.inject({
      method: 'POST', url: '/api/v1/auth/refresh',
      headers: { cookie: jar.header('refresh_token', 'csrf_token'), ...(csrf === undefined ? {} : { 'x-csrf-token': csrf }) },
    });
    const me = (jar: CookieJar) => t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { cookie: jar.header() } });

    it('refresh via the cookie needs X-CSRF-Token; without it nothing rotates', async () => {
      const login = await browserLogin(t.app, 'robin');
      const refused = await refresh(login.jar, undefined);
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toEqual({ detail: 'CSRF token missing or invalid' });
      expect(setCookies(refused)).toEqual([]);
      expect((await refresh(login.jar, login.csrf)).statusCode).toBe(200);
    });

    it('rotates: new cookies, a body without tokens; the old refresh cookie is then reuse and ends the session', async () => {
      const login = await browserLogin(t.app, 'robin');
      clock.advance(60_000);
      const res = await refresh(login.jar, login.csrf);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(Object.keys(body).sort()).toEqual(['csrf_token', 'expires_in', 'token_type']);
      expect(body).toMatchObject({ token_type: 'bearer', expires_in: t.config.accessTokenExpireMinutes * 60 });
      expect(res.headers['cache-control']).toBe('no-store');
      const rotated = new CookieJar(Object.fromEntries(login.jar.values)).take(res);
      expect(rotated.get('refresh_token')).not.toBe(login.jar.get('refresh_token'));
      expect(rotated.get('access_token')).not.toBe(login.jar.get('access_token'));
      expect(rotated.get('csrf_token')).toBe(body.csrf_token);
      expect((await me(rotated)).statusCode).toBe(200);

      clock.advance(1000);
      const replay = await refresh(login.jar, login.csrf);
      expect(replay.statusCode).toBe(401);
      expect(replay.json()).toEqual({ detail: 'Invalid or expired refresh token', error: 'invalid_grant' });
      // Reuse detection ended the whole session: the rotated pair is dead too.
      expect((await refresh(rotated, body.csrf_token)).statusCode).toBe(401);
      expect((await me(rotated)).statusCode).toBe(401);
      const { events } = await t.storage.audit.list({ limit: 1, offset: 0, action: 'token.refresh_reuse', userId: login.userId });
      expect(events).toHaveLength(1);
    });

    it('logout with only the refresh cookie (the access cookie expired and is gone) still ends the session', async () => {
      const login = await browserLogin(t.app, 'robin');
      clock.advance((t.config.accessTokenExpireMinutes + 1) * 60_000);
      expect((await me(login.jar)).statusCode).toBe(401);
      const withoutAccess = login.jar.without('access_token');
      // CSRF still applies to this path.
      const noToken = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: withoutAccess.header() } });
      expect(noToken.statusCode).toBe(403);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: withoutAccess.header(), 'x-csrf-token': login.csrf } });
      expect(res.statusCode, res.body).toBe(204);
      expect(new CookieJar(Object.fromEntries(login.jar.values)).take(res).values.size).toBe(0);
      expect((await refresh(withoutAccess, login.csrf)).statusCode).toBe(401);
      // Once more with the refresh cookie now dead: a token given and rejected.
      const again = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: withoutAccess.header(), 'x-csrf-token': login.csrf } });
      expect(again.statusCode).toBe(401);
      expect(again.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      expect(again.json()).toEqual({ detail: 'Invalid or expired refresh token' });
    });

    it('the same with the expired access cookie still sent', async () => {
      const login = await browserLogin(t.app, 'robin');
      clock.advance((t.config.accessTokenExpireMinutes + 1) * 60_000);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: login.jar.header(), 'x-csrf-token': login.csrf } });
      expect(res.statusCode, res.body).toBe(204);
      expect((await refresh(login.jar, login.csrf)).statusCode).toBe(401);
      const sessionIds = (await t.app.gatehouse.sessions.list(login.userId)).map((s) => s.id);
      expect(sessionIds).not.toContain(JSON.parse(Buffer.from(login.jar.get('access_token')!.split('.')[1]!, 'base64url').toString()).sid);
    });
  });
}

describe('cookie lifetimes', () => {
  let t: TestApp;
  const clock = new FakeClock(Date.UTC(2026, 5, 1));
  // Refresh tokens would live a week, but sessions end after two days.
  beforeAll(async () => {
    t = await authApp({ clock, env: { SESSION_MAX_DAYS: '2', REFRESH_TOKEN_EXPIRE_DAYS: '7' } });
    await register(t.app, { username: 'kim' });
  });
  afterAll(() => t?.close());

  const maxAges = (res: Parameters<typeof setCookies>[0]) =>
    Object.fromEntries(setCookies(res).map((c) => [c.name, Number(c.attributes['max-age'])]));

  it('no cookie outlives what it holds: the refresh and csrf cookies end with the session, the access cookie with its token', async () => {
    const login = await browserLogin(t.app, 'kim');
    const first = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'kim', password: PASSWORD } });
    expect(maxAges(first)).toEqual({ access_token: 900, refresh_token: 2 * 86_400, csrf_token: 2 * 86_400 });

    // Ten minutes before the session's end a refresh still works, and every cookie it sets ends with it.
    clock.advance(2 * 86_400_000 - 600_000);
    const late = await t.app.inject({
      method: 'POST', url: '/api/v1/auth/refresh',
      headers: { cookie: login.jar.header('refresh_token', 'csrf_token'), 'x-csrf-token': login.csrf },
    });
    expect(late.statusCode, late.body).toBe(200);
    expect(late.json().expires_in).toBe(600);
    expect(maxAges(late)).toEqual({ access_token: 600, refresh_token: 600, csrf_token: 600 });
  });
});
