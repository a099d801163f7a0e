// POST /api/v1/auth/password: 204, every other session ends while the caller's lives, the old
// password stops working; a wrong current password is 403 and changes nothing; the policy applies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, bearer, expectDeadRefresh, expectInvalidToken, login, me, refresh, register, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

const NEW_PASSWORD = 'a brand new passphrase 42';

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`password change on ${target.name}`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
    });
    afterAll(() => t?.close());

    const change = (token: string, body: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: bearer(token), payload: body });

    it('204: other sessions end, the caller\'s lives on, only the new password signs in', async () => {
      const { id } = await register(t.app, { username: 'alice' });
      const caller = await tokenFor(t.app, 'alice');
      const others = [await tokenFor(t.app, 'alice'), await tokenFor(t.app, 'alice')];
      const res = await change(caller.access_token, { current_password: PASSWORD, new_password: NEW_PASSWORD });
      expect(res.statusCode, res.body).toBe(204);
      expect(res.body).toBe('');

      for (const pair of others) {
        expectInvalidToken(await me(t.app, pair.access_token));
        expectDeadRefresh(await refresh(t.app, pair.refresh_token));
      }
      expect((await me(t.app, caller.access_token)).statusCode).toBe(200);
      expect((await refresh(t.app, caller.refresh_token)).statusCode).toBe(200);

      const old = await login(t.app, 'alice', PASSWORD);
      expect(old.statusCode).toBe(401);
      expect(old.json()).toEqual({ detail: 'Incorrect username or password' });
      expect((await login(t.app, 'alice', NEW_PASSWORD)).statusCode).toBe(200);
      expect((await t.storage.users.findById(id))?.passwordHash).toMatch(/^\$argon2id\$/);
      const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'password.change', userId: id });
      expect(events).toHaveLength(1);
      expect(JSON.stringify(events)).not.toContain(NEW_PASSWORD);
    });

    it('a wrong current password is 403 "Incorrect password" and changes nothing', async () => {
      await register(t.app, { username: 'bob' });
      const caller = await tokenFor(t.app, 'bob');
      const other = await tokenFor(t.app, 'bob');
      for (const current of ['not my password', '', PASSWORD.toUpperCase()]) {
        const res = await change(caller.access_token, { current_password: current, new_password: NEW_PASSWORD });
        expect(res.statusCode, current).toBe(current === '' ? 422 : 403);
        if (current !== '') expect(res.json()).toEqual({ detail: 'Incorrect password' });
      }
      expect((await login(t.app, 'bob', PASSWORD)).statusCode).toBe(200);
      expect((await login(t.app, 'bob', NEW_PASSWORD)).statusCode).toBe(401);
      expect((await me(t.app, other.access_token)).statusCode).toBe(200);
      expect((await refresh(t.app, other.refresh_token)).statusCode).toBe(200);
    });

    it('the new password must pass the policy (422 on new_password), and nothing changes', async () => {
      await register(t.app, { username: 'carol' });
      const caller = await tokenFor(t.app, 'carol');
      const other = await tokenFor(t.app, 'carol');
      const cases: [string, string][] = [
        ['short', 'Password must be at least 8 characters'],
        ['password123', 'Password is too common'],
        ['Carol@Example.com', 'Password must not be the email address'],
        ['x'.repeat(129), 'Password must be at most 128 characters'],
      ];
      for (const [next, msg] of cases) {
        const res = await change(caller.access_token, { current_password: PASSWORD, new_password: next });
        expect(res.statusCode, next).toBe(422);
        expect(res.json()).toEqual({ detail: [{ loc: ['body', 'new_password'], msg, type: 'value_error' }] });
      }
      expect((await login(t.app, 'carol', PASSWORD)).statusCode).toBe(200);
      expect((await me(t.app, other.access_token)).statusCode).toBe(200);
    });

    it('unknown or missing fields are 422', async () => {
      await register(t.app, { username: 'dave' });
      const caller = await tokenFor(t.app, 'dave');
      const extra = await change(caller.access_token, { current_password: PASSWORD, new_password: NEW_PASSWORD, user_id: 1 });
      expect(extra.statusCode).toBe(422);
      expect(extra.json().detail).toContainEqual({ loc: ['body', 'user_id'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' });
      const missing = await change(caller.access_token, { new_password: NEW_PASSWORD });
      expect(missing.statusCode).toBe(422);
      expect(missing.json().detail).toContainEqual({ loc: ['body', 'current_password'], msg: 'Field required', type: 'missing' });
      expect((await login(t.app, 'dave', PASSWORD)).statusCode).toBe(200);
    });

    it('needs a signed-in caller with profile:write', async () => {
      await register(t.app, { username: 'erin' });
      const none = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password', payload: { current_password: PASSWORD, new_password: NEW_PASSWORD } });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      const readOnly = await tokenFor(t.app, 'erin', undefined, { scope: 'profile:read' });
      const res = await change(readOnly.access_token, { current_password: PASSWORD, new_password: NEW_PASSWORD });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ detail: 'Insufficient scope' });
      expect((await login(t.app, 'erin', PASSWORD)).statusCode).toBe(200);
    });
  });
}
