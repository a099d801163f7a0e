// GET/PATCH /api/v1/users/me: the caller's own profile; a new email needs the right current_password
// (403, nothing changed, otherwise); role, is_active and any unknown field are a 422 and never applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, bearer, decodeJwt, login, me, register, tokenFor, type UserJson } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`users/me on ${target.name}`, () => {
    let t: TestApp;
    let alice: UserJson;
    let token: string;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
      alice = await register(t.app, { username: 'alice', full_name: 'Alice' });
      await register(t.app, { username: 'bob', email: 'Bob@Example.com' });
      token = (await tokenFor(t.app, 'alice')).access_token;
    });
    afterAll(() => t?.close());

    const patch = (payload: Record<string, unknown>, access = token) =>
      t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: bearer(access), payload });
    const current = async () => (await me(t.app, token)).json<UserJson>();

    it('GET: the caller\'s user JSON, exact keys, no hash, not cacheable', async () => {
      const res = await me(t.app, token);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual(alice);
      expect(res.body).not.toMatch(/argon2|password|hash|secret/i);
    });

    it('GET without a token: 401 "Not authenticated" with a bare Bearer challenge', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me' });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ detail: 'Not authenticated' });
      expect(res.headers['www-authenticate']).toBe('Bearer');
      const basic = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}` } });
      expect(basic.statusCode).toBe(401);
      expect(basic.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it('a bad full_name is one 422 saying what a name must be, not also "Input should be None"', async () => {
      for (const [full_name, type] of [[1, 'string_type'], ['x'.repeat(201), 'string_too_long']] as const) {
        const res = await patch({ full_name });
        expect(res.statusCode).toBe(422);
        expect(res.json().detail).toEqual([expect.objectContaining({ loc: ['body', 'full_name'], type })]);
      }
    });

    it('PATCH full_name: 200 with the updated user; null clears it', async () => {
      const res = await patch({ full_name: 'Alice Liddell' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ ...alice, full_name: 'Alice Liddell' });
      expect((await patch({ full_name: null })).json().full_name).toBeNull();
      expect((await current()).full_name).toBeNull();
    });

    it('a new email without current_password, or with a wrong one, is 403 and nothing changes', async () => {
      for (const body of [
        { email: 'new-alice@example.com' },
        { email: 'new-alice@example.com', current_password: 'wrong password!' },
        { email: 'new-alice@example.com', full_name: 'Changed Too', current_password: 'wrong password!' },
        { email: 'ALICE@EXAMPLE.COM' },
      ]) {
        const res = await patch(body);
        expect(res.statusCode, JSON.stringify(body)).toBe(403);
        expect(res.json()).toEqual({ detail: 'Incorrect password' });
      }
      expect(await current()).toMatchObject({ email: 'alice@example.com', full_name: null });
    });

    it('a wrong current_password sent with only a full_name is 403 too, and nothing changes', async () => {
      const res = await patch({ full_name: 'Sneaky', current_password: 'wrong password!' });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ detail: 'Incorrect password' });
      expect((await current()).full_name).toBeNull();
      // The right one is simply accepted alongside.
      const ok = await patch({ full_name: 'Alice', current_password: PASSWORD });
      expect(ok.statusCode).toBe(200);
      expect((await patch({ full_name: null })).statusCode).toBe(200);
    });

    it('a new email with the right current_password: 200, and it signs in from then on', async () => {
      const res = await patch({ email: 'alice.new@example.com', current_password: PASSWORD });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().email).toBe('alice.new@example.com');
      expect((await login(t.app, 'alice.new@example.com')).statusCode).toBe(200);
      expect((await login(t.app, 'alice@example.com')).statusCode).toBe(401);
    });

    it('an email another account has, in any case, is 409 and nothing changes', async () => {
      for (const email of ['bob@example.com', 'BOB@EXAMPLE.COM']) {
        const res = await patch({ email, current_password: PASSWORD, full_name: 'Not Applied' });
        expect(res.statusCode, res.body).toBe(409);
        expect(res.json()).toEqual({ detail: 'Email already registered' });
      }
      expect(await current()).toMatchObject({ email: 'alice.new@example.com', full_name: null });
    });

    it('an invalid email is 422', async () => {
      const res = await patch({ email: 'not an email', current_password: PASSWORD });
      expect(res.statusCode).toBe(422);
      expect(res.json().detail).toContainEqual(expect.objectContaining({ loc: ['body', 'email'] }));
    });

    for (const field of [{ role: 'admin' }, { is_active: false }, { username: 'root' }, { mfa_enabled: false }, { id: 999 }, { password: 'something new 1' }]) {
      it(`mass assignment ${JSON.stringify(field)}: 422, nothing changed`, async () => {
        const before = await current();
        const res = await patch({ full_name: 'Should Not Stick', ...field });
        expect(res.statusCode, res.body).toBe(422);
        expect(res.json().detail).toContainEqual({ loc: ['body', Object.keys(field)[0]], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' });
        expect(await current()).toEqual(before);
        expect((await t.storage.users.findById(alice.id))?.role).toBe('user');
        // Nor did a later sign-in pick anything up.
        const fresh = await tokenFor(t.app, 'alice');
        expect(decodeJwt(fresh.access_token).payload.roles).toEqual(['user']);
      });
    }

    it('a body that is not an object is 422', async () => {
      for (const payload of ['[]', '"admin"', 'null', '42']) {
        const res = await t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: { ...bearer(token), 'content-type': 'application/json' }, payload });
        expect(res.statusCode, payload).toBe(422);
      }
    });

    it('the profile of a deactivated account is not served to its old token', async () => {
      const erin = await register(t.app, { username: 'erin' });
      const erinToken = (await tokenFor(t.app, 'erin')).access_token;
      await t.storage.users.update(erin.id, { isActive: false }, Date.now());
      const res = await me(t.app, erinToken);
      expect(res.statusCode).toBe(401);
      expect(res.body).not.toContain('erin@example.com');
      const edit = await patch({ full_name: 'Ghost' }, erinToken);
      expect(edit.statusCode).toBe(401);
      expect((await t.storage.users.findById(erin.id))?.fullName).toBeNull();
    });
  });
}
