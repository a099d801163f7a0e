// POST /api/v1/auth/register: 201 with the user JSON (exact keys, never a hash), 409 for a username or
// email taken in any case, FastAPI-shaped 422s for bad input, and no mass assignment (role, is_active).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, form, login, registerRaw, type UserJson } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

const USER_KEYS = ['created_at', 'email', 'full_name', 'id', 'is_active', 'mfa_enabled', 'role', 'username'];

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`register on ${target.name}`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
    });
    afterAll(() => t?.close());

    it('201 with exactly the user JSON; argon2id stored, never shown', async () => {
      const res = await registerRaw(t.app, { email: 'Alice@Example.com', username: 'Alice', password: PASSWORD, full_name: 'Alice Liddell' });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      const user = res.json<UserJson>();
      expect(Object.keys(user).sort()).toEqual(USER_KEYS);
      expect(user).toEqual({
        id: expect.any(Number), username: 'Alice', email: 'Alice@example.com', full_name: 'Alice Liddell',
        role: 'user', is_active: true, mfa_enabled: false, created_at: expect.any(String),
      });
      expect(new Date(user.created_at).toISOString()).toBe(user.created_at);
      expect(res.body).not.toMatch(/\$argon2|\$2b\$|password|secret|hash/i);
      const stored = await t.storage.users.findById(user.id);
      expect(stored?.passwordHash).toMatch(/^\$argon2id\$v=19\$/);
      expect(stored?.passwordHash).not.toContain(PASSWORD);
    });

    it('full_name is optional (null) and the new account can sign in by username or email', async () => {
      const res = await registerRaw(t.app, { email: 'bob@example.com', username: 'bob', password: PASSWORD });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({ username: 'bob', full_name: null, role: 'user' });
      expect((await login(t.app, 'bob')).statusCode).toBe(200);
      expect((await login(t.app, 'BOB@example.COM')).statusCode).toBe(200);
    });

    it('the email is kept with its domain in lower case and its local part as given (as EmailStr normalises it), and mailed so', async () => {
      const res = await registerRaw(t.app, { email: 'Carol.Mixed@Example.COM', username: 'carol_mixed', password: PASSWORD });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().email).toBe('Carol.Mixed@example.com');
      expect((await login(t.app, 'carol.mixed@EXAMPLE.com')).statusCode).toBe(200);
      const token = (await login(t.app, 'carol_mixed')).json().access_token as string;
      const moved = await t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: { authorization: `Bearer ${token}` }, payload: { email: 'Carol@New.Example', current_password: PASSWORD } });
      expect(moved.statusCode, moved.body).toBe(200);
      expect(moved.json().email).toBe('Carol@new.example');
      // The same address in another spelling of its domain is no change at all: no password needed.
      const same = await t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: { authorization: `Bearer ${token}` }, payload: { email: 'Carol@NEW.example' } });
      expect(same.statusCode, same.body).toBe(200);
      expect(same.json().email).toBe('Carol@new.example');
    });

    it('409 for a username taken in another case, and nothing is created', async () => {
      for (const username of ['alice', 'ALICE', 'aLiCe']) {
        const res = await registerRaw(t.app, { email: `${username}-2@example.com`, username, password: PASSWORD });
        expect(res.statusCode, res.body).toBe(409);
        expect(res.json()).toEqual({ detail: 'Username already registered' });
      }
      expect((await t.storage.users.list({ q: 'alice', limit: 10, offset: 0 })).total).toBe(1);
    });

    it('409 for an email taken in another case', async () => {
      for (const email of ['alice@example.com', 'ALICE@EXAMPLE.COM']) {
        const res = await registerRaw(t.app, { email, username: 'alice_two', password: PASSWORD });
        expect(res.statusCode, res.body).toBe(409);
        expect(res.json()).toEqual({ detail: 'Email already registered' });
      }
      expect((await login(t.app, 'alice_two')).statusCode).toBe(401);
    });

    it('both taken: the same 409, naming the username, on every database', async () => {
      const res = await registerRaw(t.app, { email: 'ALICE@example.com', username: 'Alice', password: PASSWORD });
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json()).toEqual({ detail: 'Username already registered' });
    });

    it('two sign-ups racing for one name (in different cases): one 201, one 409, never a 5xx', async () => {
      const [a, b] = await Promise.all([
        registerRaw(t.app, { email: 'race-1@example.com', username: 'Racer', password: PASSWORD }),
        registerRaw(t.app, { email: 'race-2@example.com', username: 'racer', password: PASSWORD }),
      ]);
      expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409]);
      const [c, d] = await Promise.all([
        registerRaw(t.app, { email: 'Same@Example.com', username: 'same_one', password: PASSWORD }),
        registerRaw(t.app, { email: 'same@example.com', username: 'same_two', password: PASSWORD }),
      ]);
      expect([c.statusCode, d.statusCode].sort()).toEqual([201, 409]);
      expect([c, d].find((r) => r.statusCode === 409)?.json()).toEqual({ detail: 'Email already registered' });
    });

    it('a username can never be another account\'s email (an "@" is not a username character)', async () => {
      const res = await registerRaw(t.app, { email: 'mallory@example.com', username: 'alice@example.com', password: PASSWORD });
      expect(res.statusCode).toBe(422);
      expect(res.json().detail[0]).toMatchObject({ loc: ['body', 'username'], type: 'string_pattern_mismatch' });
    });

    describe('422 in the FastAPI shape', () => {
      const bad = async (body: Record<string, unknown>) => {
        const res = await registerRaw(t.app, { email: 'carol@example.com', username: 'carol', password: PASSWORD, ...body });
        expect(res.statusCode, res.body).toBe(422);
        const detail = res.json().detail as { loc: unknown[]; msg: string; type: string }[];
        expect(Array.isArray(detail)).toBe(true);
        for (const item of detail) {
          expect(Object.keys(item).sort()).toEqual(['loc', 'msg', 'type']);
          expect(item.msg).not.toBe('');
        }
        expect(res.body).not.toContain(PASSWORD);
        return detail;
      };

      for (const username of ['ab', 'x'.repeat(51), 'with space', 'dash-name', 'dot.name', 'ünicode', '', 'semi;colon']) {
        it(`bad username ${JSON.stringify(username.slice(0, 12))}`, async () => {
          const detail = await bad({ username });
          expect(detail.map((d) => d.loc)).toContainEqual(['body', 'username']);
        });
      }

      // RFC 5321's lengths, as FastAPI's EmailStr applies them: 64 before the @, 254 in all.
      it('an email of the longest allowed lengths registers', async () => {
        const longest = `${'l'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(56)}.test`;
        expect(longest).toHaveLength(254);
        expect((await registerRaw(t.app, { username: 'longest_mail', email: longest, password: PASSWORD })).statusCode).toBe(201);
      });

      for (const email of ['not-an-email', 'a@b', '@example.com', 'a b@example.com', 'carol@', `${'x'.repeat(320)}@example.com`,
        `${'m'.repeat(65)}@example.com`, `a@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.${'g'.repeat(56)}.test`]) {
        it(`bad email ${JSON.stringify(email.slice(0, 16))}`, async () => {
          const detail = await bad({ email });
          expect(detail.map((d) => d.loc)).toContainEqual(['body', 'email']);
        });
      }

      const passwords: [string, Record<string, string>, string][] = [
        ['too short', { password: 'Tr0ub4!' }, 'Password must be at least 8 characters'],
        ['too long', { password: 'p'.repeat(129) }, 'Password must be at most 128 characters'],
        ['on the common list', { password: 'password123' }, 'Password is too common'],
        ['is the username', { username: 'carol_is_me', password: 'CAROL_IS_ME' }, 'Password must not be the username'],
        ['is the email', { username: 'cz_99', email: 'carol.smith@example.com', password: 'Carol.Smith@Example.com' }, 'Password must not be the email address'],
      ];
      for (const [name, body, msg] of passwords) {
        it(`bad password: ${name}`, async () => {
          const detail = await bad(body);
          expect(detail).toEqual([{ loc: ['body', 'password'], msg, type: 'value_error' }]);
          expect(await t.storage.users.findByLogin(body.username ?? 'carol')).toBeUndefined();
        });
      }

      it('a missing field is "missing"', async () => {
        const res = await registerRaw(t.app, { email: 'carol@example.com', username: 'carol' });
        expect(res.statusCode).toBe(422);
        expect(res.json().detail).toContainEqual({ loc: ['body', 'password'], msg: 'Field required', type: 'missing' });
      });

      it('a wrong type is refused', async () => {
        const detail = await bad({ username: 12345 });
        expect(detail).toContainEqual({ loc: ['body', 'username'], msg: 'Input should be a valid string', type: 'string_type' });
      });

      for (const field of [{ role: 'admin' }, { is_active: false }, { mfa_enabled: true }, { id: 1 }, { password_hash: 'x' }]) {
        it(`unknown field ${Object.keys(field)[0]} is 422, never applied`, async () => {
          const detail = await bad({ username: 'dave', email: 'dave@example.com', ...field });
          expect(detail).toContainEqual({ loc: ['body', Object.keys(field)[0]], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' });
          expect(await t.storage.users.findByLogin('dave')).toBeUndefined();
        });
      }
    });

    it('a form body is 415 (the JSON route reads JSON only)', async () => {
      const body = form({ email: 'erin@example.com', username: 'erin', password: PASSWORD });
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', ...body });
      expect(res.statusCode).toBe(415);
      expect(await t.storage.users.findByLogin('erin')).toBeUndefined();
    });
  });
}
