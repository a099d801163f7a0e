// Authorization attacks across every protected route: the 401 challenge (RFC 6750 §3) with and
// without a token, scopes enforced route by route, privilege escalation (self-promotion, mass
// assignment, another user's ids), and deactivation or demotion biting tokens already issued.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, bearer, decodeJwt, form, login, me, refresh, register, registerAdmin, tokenFor, type UserJson } from '../helpers/auth.js';

interface Route {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly url: string;
  readonly payload?: Record<string, unknown>;
  /** The scope the route needs, or 'admin-role' for admin routes. */
  readonly needs: 'profile:read' | 'profile:write' | 'admin-role' | 'none';
}

describe('authorization', () => {
  let t: TestApp;
  let alice: UserJson;
  let bob: UserJson;
  let admin: UserJson;
  let routes: Route[];
  beforeAll(async () => {
    t = await authApp();
    alice = await register(t.app, { username: 'alice' });
    bob = await register(t.app, { username: 'bob' });
    admin = await registerAdmin(t.app, 'root');
    routes = [
      { method: 'GET', url: '/api/v1/users/me', needs: 'profile:read' },
      { method: 'PATCH', url: '/api/v1/users/me', payload: { full_name: 'X' }, needs: 'profile:write' },
      { method: 'GET', url: '/api/v1/auth/sessions', needs: 'profile:read' },
      { method: 'DELETE', url: '/api/v1/auth/sessions/unknown-session', needs: 'profile:write' },
      { method: 'POST', url: '/api/v1/auth/password', payload: { current_password: 'wrong one!', new_password: 'whatever new 123' }, needs: 'profile:write' },
      { method: 'POST', url: '/api/v1/auth/logout-all', needs: 'profile:write' },
      { method: 'POST', url: '/api/v1/auth/logout', needs: 'none' },
      { method: 'GET', url: '/api/v1/admin/users', needs: 'admin-role' },
      { method: 'PATCH', url: `/api/v1/admin/users/${bob.id}`, payload: { role: 'admin' }, needs: 'admin-role' },
    ];
  });
  afterAll(() => t?.close());

  const call = (route: Route, headers: Record<string, string> = {}) =>
    t.app.inject({ method: route.method, url: route.url, headers, ...(route.payload ? { payload: route.payload } : {}) });

  it('every protected route: no credentials → 401 "Not authenticated" with WWW-Authenticate: Bearer', async () => {
    for (const route of routes) {
      const res = await call(route);
      expect(res.statusCode, `${route.method} ${route.url}`).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.json()).toEqual({ detail: 'Not authenticated' });
    }
  });

  it('every protected route: a rejected token → 401 with error="invalid_token"', async () => {
    const { refresh_token: refreshToken } = await tokenFor(t.app, 'alice');
    for (const token of ['garbage', 'a.b.c', refreshToken]) {
      for (const route of routes) {
        const res = await call(route, bearer(token));
        expect(res.statusCode, `${route.method} ${route.url}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
        expect(res.json()).toEqual({ detail: 'Could not validate credentials' });
      }
    }
  });

  it('every other 401 carries the challenge too: a failed login, a dead refresh token', async () => {
    const bad = await login(t.app, 'alice', 'wrong password');
    expect(bad.headers['www-authenticate']).toBe('Bearer');
    const dead = await refresh(t.app, 'x'.repeat(43));
    expect(dead.statusCode).toBe(401);
    expect(dead.headers['www-authenticate']).toMatch(/^Bearer/);
    const grant = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'refresh_token', refresh_token: 'y'.repeat(43) }) });
    expect(grant.statusCode).toBe(401);
    expect(grant.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('the scheme name is case-insensitive (RFC 7235 §2.1); other schemes are no credentials', async () => {
    const { access_token } = await tokenFor(t.app, 'alice');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: `bearer ${access_token}` } })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: `BEARER ${access_token}` } })).statusCode).toBe(200);
    const basic = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}` } });
    expect(basic.statusCode).toBe(401);
    expect(basic.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('scopes route by route: a token lacking the route\'s scope gets 403 "Insufficient scope"', async () => {
    const tokens = {
      'profile:read': (await tokenFor(t.app, 'alice', PASSWORD, { scope: 'profile:read' })).access_token,
      'profile:write': (await tokenFor(t.app, 'alice', PASSWORD, { scope: 'profile:write' })).access_token,
    };
    for (const route of routes.filter((r) => r.needs === 'profile:read' || r.needs === 'profile:write')) {
      const other = route.needs === 'profile:read' ? 'profile:write' : 'profile:read';
      const res = await call(route, bearer(tokens[other]));
      expect(res.statusCode, `${route.method} ${route.url} with ${other}`).toBe(403);
      expect(res.json()).toEqual({ detail: 'Insufficient scope' });
    }
    // The refused calls changed nothing: alice is still signed in everywhere and unrenamed.
    expect((await me(t.app, tokens['profile:read'])).json().full_name).toBeNull();
  });

  it('admin routes: a user token is 403 "Insufficient permissions", whatever scope it asked for', async () => {
    const asked = await tokenFor(t.app, 'bob', PASSWORD, { scope: 'admin profile:read profile:write' });
    expect(asked.scope.split(' ')).not.toContain('admin');
    for (const route of routes.filter((r) => r.needs === 'admin-role')) {
      const res = await call(route, bearer(asked.access_token));
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ detail: 'Insufficient permissions' });
    }
    expect((await t.storage.users.findById(bob.id))?.role).toBe('user');
  });

  it('no self-promotion: not through the profile, not through the admin route', async () => {
    const { access_token } = await tokenFor(t.app, 'bob');
    const own = await t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: bearer(access_token), payload: { role: 'admin' } });
    expect(own.statusCode).toBe(422);
    const viaAdmin = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${bob.id}`, headers: bearer(access_token), payload: { role: 'admin' } });
    expect(viaAdmin.statusCode).toBe(403);
    const roles = decodeJwt((await tokenFor(t.app, 'bob')).access_token).payload.roles;
    expect(roles).toEqual(['user']);
  });

  it('another user\'s session is out of reach (404), and the answer does not tell it exists', async () => {
    const bobs = await tokenFor(t.app, 'bob');
    const alices = await tokenFor(t.app, 'alice');
    const theirs = await t.app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${decodeJwt(bobs.access_token).payload.sid}`, headers: bearer(alices.access_token) });
    const nobody = await t.app.inject({ method: 'DELETE', url: '/api/v1/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA', headers: bearer(alices.access_token) });
    expect(theirs.statusCode).toBe(404);
    expect(theirs.body).toBe(nobody.body);
    expect((await me(t.app, bobs.access_token)).statusCode).toBe(200);
    const listed = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(alices.access_token) });
    expect(listed.body).not.toContain(String(decodeJwt(bobs.access_token).payload.sid));
  });

  it('deactivation bites at once on every route, for every token and session of the user', async () => {
    const mallory = await register(t.app, { username: 'mallory' });
    const sessions = [await tokenFor(t.app, 'mallory'), await tokenFor(t.app, 'mallory', PASSWORD, { scope: 'profile:read' })];
    const adminToken = (await tokenFor(t.app, 'root')).access_token;
    expect((await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${mallory.id}`, headers: bearer(adminToken), payload: { is_active: false } })).statusCode).toBe(200);
    for (const pair of sessions) {
      for (const route of routes) {
        const res = await call(route, bearer(pair.access_token));
        expect([401, 403], `${route.method} ${route.url}`).toContain(res.statusCode);
        expect(res.body).not.toContain('mallory@example.com');
      }
      expect((await refresh(t.app, pair.refresh_token)).statusCode).toBe(401);
    }
    expect((await login(t.app, 'mallory')).statusCode).toBe(403);
    expect((await login(t.app, 'mallory', 'wrong password')).statusCode).toBe(401);
  });

  it('demotion bites at once: the old admin token can do nothing on admin routes', async () => {
    const deputy = await registerAdmin(t.app, 'deputy');
    const deputyToken = (await tokenFor(t.app, 'deputy')).access_token;
    const rootToken = (await tokenFor(t.app, 'root')).access_token;
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(deputyToken) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${deputy.id}`, headers: bearer(rootToken), payload: { role: 'user' } })).statusCode).toBe(200);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(deputyToken) });
    expect([401, 403]).toContain(list.statusCode);
    // The demoted admin cannot take revenge on the one who demoted them.
    const revenge = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${admin.id}`, headers: bearer(deputyToken), payload: { is_active: false } });
    expect([401, 403]).toContain(revenge.statusCode);
    expect((await t.storage.users.findById(admin.id))?.isActive).toBe(true);
    expect((await t.storage.users.findById(alice.id))?.role).toBe('user');
  });
});
