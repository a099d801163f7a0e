// POST /api/v1/auth/refresh (JSON) and the refresh_token grant of /auth/token: a new pair, no-store,
// the same session, the old refresh token dead, scopes kept, and a 401 for anything not a live token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, decodeJwt, expectDeadRefresh, form, me, refresh, register, tokenFor, type TokenPair } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`refresh on ${target.name}`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
      await register(t.app, { username: 'alice' });
    });
    afterAll(() => t?.close());

    const grant = (refreshToken: string) =>
      t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'refresh_token', refresh_token: refreshToken }) });

    it('JSON refresh: 200 with a new pair in the same session, not cacheable', async () => {
      const first = await tokenFor(t.app, 'alice');
      const res = await refresh(t.app, first.refresh_token);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const next = res.json<TokenPair>();
      expect(Object.keys(next).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      expect(next).toMatchObject({ token_type: 'bearer', expires_in: 900, scope: 'profile:read profile:write' });
      expect(next.refresh_token).not.toBe(first.refresh_token);
      expect(next.access_token).not.toBe(first.access_token);
      const before = decodeJwt(first.access_token).payload;
      const after = decodeJwt(next.access_token).payload;
      expect(after.sid).toBe(before.sid);
      expect(after.sub).toBe(before.sub);
      expect(after.jti).not.toBe(before.jti);
      expect((await me(t.app, next.access_token)).statusCode).toBe(200);
    });

    it('the rotated refresh token is dead from then on, on both endpoints', async () => {
      const first = await tokenFor(t.app, 'alice');
      expect((await refresh(t.app, first.refresh_token)).statusCode).toBe(200);
      expectDeadRefresh(await refresh(t.app, first.refresh_token));
      expectDeadRefresh(await grant(first.refresh_token));
    });

    it('the refresh_token grant on /auth/token rotates the same way', async () => {
      const first = await tokenFor(t.app, 'alice');
      const res = await grant(first.refresh_token);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const next = res.json<TokenPair>();
      expect(decodeJwt(next.access_token).payload.sid).toBe(decodeJwt(first.access_token).payload.sid);
      expect((await refresh(t.app, next.refresh_token)).statusCode).toBe(200);
      expectDeadRefresh(await refresh(t.app, first.refresh_token));
    });

    it('a chain of rotations keeps working while each token is used once', async () => {
      let pair = await tokenFor(t.app, 'alice');
      const sid = decodeJwt(pair.access_token).payload.sid;
      for (let i = 0; i < 5; i += 1) {
        const res = await refresh(t.app, pair.refresh_token);
        expect(res.statusCode, res.body).toBe(200);
        pair = res.json<TokenPair>();
        expect(decodeJwt(pair.access_token).payload.sid).toBe(sid);
      }
      expect((await me(t.app, pair.access_token)).statusCode).toBe(200);
    });

    it('a session keeps the scopes it was granted', async () => {
      const narrow = await tokenFor(t.app, 'alice', undefined, { scope: 'profile:read' });
      const res = await refresh(t.app, narrow.refresh_token);
      expect(res.json<TokenPair>().scope).toBe('profile:read');
      const patch = await t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: bearer(res.json<TokenPair>().access_token), payload: { full_name: 'x' } });
      expect(patch.statusCode).toBe(403);
    });

    it('the refresh updates the session\'s last use and client', async () => {
      const pair = await tokenFor(t.app, 'alice', undefined, {}, { 'user-agent': 'first-agent/1.0' });
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: pair.refresh_token }, headers: { 'user-agent': 'second-agent/2.0' } });
      expect(res.statusCode).toBe(200);
      const sessions = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(res.json<TokenPair>().access_token) });
      const mine = sessions.json<{ current: boolean; user_agent: string }[]>().find((s) => s.current);
      expect(mine?.user_agent).toBe('second-agent/2.0');
    });

    it('anything that is not a live refresh token is 401 and no tokens', async () => {
      for (const token of ['x', 'not-a-real-refresh-token-but-long-enough-to-look-like-one', 'A'.repeat(43), ' '.repeat(30), '../../etc/passwd'.repeat(3)]) {
        expectDeadRefresh(await refresh(t.app, token));
        expectDeadRefresh(await grant(token));
      }
    });

    it('no refresh token at all is 401 with a Bearer challenge (JSON) and 422 missing (form)', async () => {
      for (const payload of [{}, undefined]) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', ...(payload ? { payload } : {}) });
        expect(res.statusCode, res.body).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'refresh_token' }) });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({ detail: [{ loc: ['body', 'refresh_token'], msg: 'Field required', type: 'missing' }] });
    });

    it('unknown JSON fields are 422; a form body on the JSON route is 415', async () => {
      const pair = await tokenFor(t.app, 'alice');
      const extra = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: pair.refresh_token, scope: 'admin' } });
      expect(extra.statusCode).toBe(422);
      const formBody = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', ...form({ refresh_token: pair.refresh_token }) });
      expect(formBody.statusCode).toBe(415);
      // Neither spent the token.
      expect((await refresh(t.app, pair.refresh_token)).statusCode).toBe(200);
    });
  });
}
