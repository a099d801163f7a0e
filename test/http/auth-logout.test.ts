// POST /api/v1/auth/logout and /auth/logout-all: the session's access and refresh tokens stop
// working at once (other sessions live on), logout-all ends every session of the user, and a
// restart on the same database still refuses what was logged out (revocations reloaded from it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, expectDeadRefresh, expectInvalidToken, me, refresh, register, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`logout on ${target.name}`, () => {
    let t: TestApp;
    let aliceId: number;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
      aliceId = (await register(t.app, { username: 'alice' })).id;
      await register(t.app, { username: 'bob' });
    });
    afterAll(() => t?.close());

    const logout = (token: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) });
    const logoutAll = (token: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: bearer(token) });

    it('logout: 204, and this session\'s access and refresh tokens die at once; other sessions live', async () => {
      const phone = await tokenFor(t.app, 'alice');
      const laptop = await tokenFor(t.app, 'alice');
      const res = await logout(phone.access_token);
      expect(res.statusCode, res.body).toBe(204);
      expect(res.body).toBe('');
      // "cookies cleared" however the logout was authenticated (a bearer caller may be a browser too).
      const cleared = [res.headers['set-cookie']].flat().map((c) => String(c).split('=')[0]).sort();
      expect(cleared).toEqual(['access_token', 'csrf_token', 'refresh_token']);

      expectInvalidToken(await me(t.app, phone.access_token));
      expectDeadRefresh(await refresh(t.app, phone.refresh_token));
      expectInvalidToken(await logout(phone.access_token));

      expect((await me(t.app, laptop.access_token)).statusCode).toBe(200);
      expect((await refresh(t.app, laptop.refresh_token)).statusCode).toBe(200);
      const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'logout', userId: aliceId });
      expect(events[0]).toMatchObject({ outcome: 'success' });
    });

    it('an access token refreshed from a logged-out session is dead too (the refresh failed, no new pair)', async () => {
      const pair = await tokenFor(t.app, 'alice');
      const rotated = (await refresh(t.app, pair.refresh_token)).json();
      expect((await logout(pair.access_token)).statusCode).toBe(204);
      // Both access tokens of the session (before and after the rotation) are refused.
      expectInvalidToken(await me(t.app, rotated.access_token));
      expectDeadRefresh(await refresh(t.app, rotated.refresh_token));
    });

    it('logout without a token is 401 with a bare Bearer challenge; a bad token adds invalid_token', async () => {
      const none = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout' });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(none.json()).toEqual({ detail: 'Not authenticated' });
      expectInvalidToken(await logout('not.a.token'));
    });

    it('logout-all: 204 and every session of the user ends; another user is unaffected', async () => {
      const sessions = [await tokenFor(t.app, 'alice'), await tokenFor(t.app, 'alice'), await tokenFor(t.app, 'alice')];
      const bob = await tokenFor(t.app, 'bob');
      const res = await logoutAll(sessions[1]!.access_token);
      expect(res.statusCode, res.body).toBe(204);
      for (const pair of sessions) {
        expectInvalidToken(await me(t.app, pair.access_token));
        expectDeadRefresh(await refresh(t.app, pair.refresh_token));
      }
      expect((await me(t.app, bob.access_token)).statusCode).toBe(200);
      expect((await refresh(t.app, bob.refresh_token)).statusCode).toBe(200);
      // Signing in again starts afresh.
      expect((await me(t.app, (await tokenFor(t.app, 'alice')).access_token)).statusCode).toBe(200);
    });

    it('logout-all needs the profile:write scope; logout does not (ending one\'s own session is always allowed)', async () => {
      const readOnly = await tokenFor(t.app, 'alice', undefined, { scope: 'profile:read' });
      const other = await tokenFor(t.app, 'alice');
      const all = await logoutAll(readOnly.access_token);
      expect(all.statusCode).toBe(403);
      expect(all.json()).toEqual({ detail: 'Insufficient scope' });
      expect((await me(t.app, other.access_token)).statusCode).toBe(200);
      expect((await logout(readOnly.access_token)).statusCode).toBe(204);
      expectInvalidToken(await me(t.app, readOnly.access_token));
    });
  });

  describe.skipIf(!target.available)(`a restart on ${target.name} forgets no revocation`, () => {
    it('logged-out, logged-out-all and deactivated users\' tokens stay refused by a new app on the same database', async () => {
      const storage = await target.open();
      const first = await authApp({ storage });
      await register(first.app, { username: 'carol' });
      await register(first.app, { username: 'dave' });
      const { id: erinId } = await register(first.app, { username: 'erin' });
      const admin = await first.app.gatehouse.users.register({ email: 'root@example.com', username: 'root', password: 'correct horse battery staple' }, 'admin');
      expect(admin.role).toBe('admin');

      const loggedOut = await tokenFor(first.app, 'carol');
      const kept = await tokenFor(first.app, 'carol');
      const allGone = [await tokenFor(first.app, 'dave'), await tokenFor(first.app, 'dave')];
      const deactivated = await tokenFor(first.app, 'erin');
      const rootToken = await tokenFor(first.app, 'root');
      expect((await first.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(loggedOut.access_token) })).statusCode).toBe(204);
      expect((await first.app.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: bearer(allGone[0]!.access_token) })).statusCode).toBe(204);
      const patch = await first.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${erinId}`, headers: bearer(rootToken.access_token), payload: { is_active: false } });
      expect(patch.statusCode, patch.body).toBe(200);
      await first.app.close();

      const second = await authApp({ storage });
      try {
        expectInvalidToken(await me(second.app, loggedOut.access_token));
        for (const pair of allGone) expectInvalidToken(await me(second.app, pair.access_token));
        expect([401, 403]).toContain((await me(second.app, deactivated.access_token)).statusCode);
        expectDeadRefresh(await refresh(second.app, loggedOut.refresh_token));
        expectDeadRefresh(await refresh(second.app, deactivated.refresh_token));
        // What was not revoked still works after the restart.
        expect((await me(second.app, kept.access_token)).statusCode).toBe(200);
        expect((await refresh(second.app, kept.refresh_token)).statusCode).toBe(200);
      } finally {
        await second.close();
      }
    });
  });
}
