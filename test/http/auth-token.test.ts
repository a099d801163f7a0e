// POST /api/v1/auth/token, the password grant: form bodies only, username or email, one 401 for
// unknown user and wrong password, 403 for an inactive account, the token response (no-store), the
// access token's claims, scopes, a new session per login, and bcrypt hashes imported from FastAPI.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, bearer, decodeJwt, form, login, me, register, registerAdmin, tokenFor, type TokenPair } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

const BAD_LOGIN = { detail: 'Incorrect username or password' };

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`password grant on ${target.name}`, () => {
    let t: TestApp;
    let aliceId: number;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
      aliceId = (await register(t.app, { username: 'alice', email: 'Alice@Example.com' })).id;
      await registerAdmin(t.app, 'root_admin');
    });
    afterAll(() => t?.close());

    it('200 with the OAuth2 token response, not cacheable', async () => {
      const res = await login(t.app, 'alice');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.pragma).toBe('no-cache');
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      const body = res.json<TokenPair>();
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      expect(body).toEqual({
        access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), refresh_token: expect.any(String),
        token_type: 'bearer', expires_in: 15 * 60, scope: 'profile:read profile:write',
      });
      expect(body.refresh_token.length).toBeGreaterThanOrEqual(40);
      expect(body.refresh_token).not.toContain('.');
      expect((await me(t.app, body.access_token)).json()).toMatchObject({ id: aliceId, username: 'alice' });
    });

    it('the access token carries the contract\'s claims and no personal data', async () => {
      const { access_token } = await tokenFor(t.app, 'alice');
      const { header, payload } = decodeJwt(access_token);
      expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
      expect(payload).toEqual({
        sub: String(aliceId), sid: expect.any(String), jti: expect.any(String), iat: expect.any(Number), exp: expect.any(Number),
        iss: 'gatehouse', aud: 'gatehouse', type: 'access', roles: ['user'], scope: 'profile:read profile:write', ver: 1,
        // No scope was asked for: the session follows the role (a promotion reaches tokens already issued).
        scope_follows_role: true,
      });
      expect(payload.exp as number - (payload.iat as number)).toBe(15 * 60);
      expect(JSON.stringify(payload)).not.toMatch(/alice|example\.com/i);
    });

    it('signs in by email too, in any case, with surrounding blanks ignored', async () => {
      for (const name of ['alice@example.com', 'ALICE@EXAMPLE.COM', 'ALICE', '  alice ']) {
        expect((await login(t.app, name)).statusCode, name).toBe(200);
      }
    });

    it('unknown user and wrong password get the same 401, with a Bearer challenge and no tokens', async () => {
      // One after another: a burst would meet the hashing queue's load shedding, proved elsewhere.
      const answers = [];
      for (const [name, password] of [
        ['alice', 'wrong password here'], ['nobody_here', PASSWORD], ['nobody@example.com', PASSWORD],
        ['alice', PASSWORD.toUpperCase()], ['ALICE ', 'wrong password here'],
      ] as const) answers.push(await login(t.app, name, password));
      for (const res of answers) {
        expect(res.statusCode, res.body).toBe(401);
        expect(res.json()).toEqual(BAD_LOGIN);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(res.headers['content-type']).toBe(answers[0]!.headers['content-type']);
      }
    });

    it('every failure and success is audited, without the password', async () => {
      await login(t.app, 'alice', 'audit me not');
      await login(t.app, 'ghost_user', 'audit me not');
      const { events } = await t.storage.audit.list({ limit: 20, offset: 0, action: 'login.failure' });
      expect(events.find((e) => e.userId === aliceId)).toMatchObject({ outcome: 'failure' });
      expect(events.find((e) => e.userId === null)).toMatchObject({ outcome: 'failure' });
      expect((await t.storage.audit.list({ limit: 1, offset: 0, action: 'login.success', userId: aliceId })).total).toBeGreaterThan(0);
      expect(JSON.stringify(events)).not.toContain('audit me not');
    });

    it('an inactive user with the right password gets 403 "Inactive user"; with a wrong one the plain 401', async () => {
      const { id } = await register(t.app, { username: 'dormant' });
      await t.storage.users.update(id, { isActive: false }, Date.now());
      const right = await login(t.app, 'dormant');
      expect(right.statusCode).toBe(403);
      expect(right.json()).toEqual({ detail: 'Inactive user' });
      const wrong = await login(t.app, 'dormant', 'not the password');
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toEqual(BAD_LOGIN);
    });

    it('multipart/form-data (a browser\'s FormData) is a form too, as FastAPI reads it: fields only', async () => {
      const multipart = (parts: string[], boundary = 'gatehouse-test-boundary') => ({
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload: `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`,
      });
      const field = (name: string, value: string) => `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`;
      const ok = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...multipart([field('grant_type', 'password'), field('username', 'alice'), field('password', PASSWORD)]) });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json()).toMatchObject({ token_type: 'bearer', access_token: expect.any(String), refresh_token: expect.any(String) });
      expect(ok.headers['cache-control']).toBe('no-store');
      // The same answers as the urlencoded form: a wrong password, a missing field, an unknown one (ignored).
      const wrong = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...multipart([field('username', 'alice'), field('password', 'not it at all')]) });
      expect(wrong.statusCode).toBe(401);
      const missing = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...multipart([field('username', 'alice')]) });
      expect(missing.json()).toEqual({ detail: [{ loc: ['body', 'password'], msg: 'Field required', type: 'missing' }] });
      const extra = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...multipart([field('username', 'alice'), field('password', PASSWORD), field('role', 'admin')]) });
      expect(extra.statusCode).toBe(200);
      expect(extra.json().scope).toBe('profile:read profile:write');
      // A file is no field: refused, no tokens.
      const file = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...multipart([field('username', 'alice'), field('password', PASSWORD), 'Content-Disposition: form-data; name="password"; filename="p.txt"\r\nContent-Type: text/plain\r\n\r\nxyz']) });
      expect(file.statusCode).toBeGreaterThanOrEqual(400);
      expect(file.statusCode).toBeLessThan(500);
      expect(file.body).not.toContain('access_token');
      // Other JSON routes still refuse multipart (415).
      const elsewhere = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', ...multipart([field('username', 'alice')]) });
      expect(elsewhere.statusCode).toBe(415);
    });

    it('a multipart body over the limit is 413, like any other body (its parser streams, so the length is judged first)', async () => {
      const boundary = 'big-boundary';
      const payload = `--${boundary}\r\nContent-Disposition: form-data; name="username"\r\n\r\n${'a'.repeat(1024 * 1024 + 10)}\r\n--${boundary}--\r\n`;
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ detail: 'Request body too large' });
    });

    it('a chunked multipart body over the limit is 413 too: no length to judge first, so the bytes are counted', async () => {
      const boundary = 'chunked-boundary';
      const res = await t.app.inject({
        method: 'POST', url: '/api/v1/auth/token',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload: Readable.from([
          `--${boundary}\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n`,
          `--${boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n${PASSWORD}\r\n`,
          `--${boundary}\r\nContent-Disposition: form-data; name="junk"\r\n\r\n`,
          ...Array.from({ length: 40 }, () => 'j'.repeat(64 * 1024)),
          `\r\n--${boundary}--\r\n`,
        ]),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ detail: 'Request body too large' });
    });

    it('a multipart body that cannot be split (no boundary, broken framing) is 400, never a 5xx; odd fields are 4xx or ignored', async () => {
      for (const type of ['multipart/form-data', 'multipart/form-data; charset=utf-8', 'multipart/form-data;boundary']) {
        for (const payload of ['', 'x']) {
          const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload, headers: { 'content-type': type } });
          expect(res.statusCode, `${type} ${JSON.stringify(payload)}`).toBe(400);
          expect(res.json()).toEqual({ detail: 'There was an error parsing the body' });
        }
      }
      const boundary = 'b0undary';
      const body = (parts: string[]) => ({
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload: `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`,
      });
      const field = (name: string, value: string) => `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`;
      // Unterminated: the closing boundary never comes.
      const cut = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: `--${boundary}\r\n${field('username', 'alice')}` });
      expect(cut.statusCode).toBeGreaterThanOrEqual(400);
      expect(cut.statusCode).toBeLessThan(500);
      // A small file part is a field of the wrong type (FastAPI: an UploadFile where a string is wanted), not "too large".
      const file = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...body([field('username', 'alice'), 'Content-Disposition: form-data; name="password"; filename="p.txt"\r\nContent-Type: text/plain\r\n\r\nxyz']) });
      expect(file.statusCode).toBe(422);
      expect(file.json()).toEqual({ detail: [{ loc: ['body', 'password'], msg: 'Input should be a valid string', type: 'string_type' }] });
      // Prototype names are ignored, as in the urlencoded form.
      const proto = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...body([field('__proto__', 'x'), field('constructor', 'y'), field('username', 'alice'), field('password', PASSWORD)]) });
      expect(proto.statusCode, proto.body).toBe(200);
      // Many small fields (well under the size limit) are unknown parameters, ignored; past 1000 a 400 that says why.
      const many = Array.from({ length: 200 }, (_, i) => field(`f${i}`, 'v'));
      expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...body([...many, field('username', 'alice'), field('password', PASSWORD)]) })).statusCode).toBe(200);
      const tooMany = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...body(Array.from({ length: 1001 }, (_, i) => field(`f${i}`, 'v'))) });
      expect(tooMany.statusCode).toBe(400);
      expect(tooMany.json().detail).toMatch(/Too many fields/);
      // A repeated field is refused, as a repeated urlencoded one.
      const twice = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...body([field('username', 'alice'), field('username', 'bob'), field('password', PASSWORD)]) });
      expect(twice.statusCode).toBe(422);
    });

    it('JSON is 415: the token endpoint reads forms only', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { grant_type: 'password', username: 'alice', password: PASSWORD } });
      expect(res.statusCode).toBe(415);
      expect(res.json()).toEqual({ detail: 'Unsupported Media Type' });
      expect(res.body).not.toContain('access_token');
    });

    it('a missing field is 422; an unknown grant type is 400 unsupported_grant_type', async () => {
      const missing = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'password', username: 'alice' }) });
      expect(missing.statusCode).toBe(422);
      expect(missing.json()).toEqual({ detail: [{ loc: ['body', 'password'], msg: 'Field required', type: 'missing' }] });
      const grant = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'client_credentials', username: 'alice', password: PASSWORD }) });
      expect(grant.statusCode).toBe(400);
      expect(grant.json()).toMatchObject({ error: 'unsupported_grant_type' });
    });

    it('an empty form reports both missing fields, as FastAPI does', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'password' }) });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({ detail: [
        { loc: ['body', 'username'], msg: 'Field required', type: 'missing' },
        { loc: ['body', 'password'], msg: 'Field required', type: 'missing' },
      ] });
    });

    it('an empty form value is a missing one, as FastAPI reads forms: 422 "Field required", and it counts as no guess', async () => {
      for (const [fields, field] of [[{ username: '', password: 'x' }, 'username'], [{ username: 'alice', password: '' }, 'password']] as const) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'password', ...fields }) });
        expect(res.statusCode, JSON.stringify(fields)).toBe(422);
        expect(res.json()).toEqual({ detail: [{ loc: ['body', field], msg: 'Field required', type: 'missing' }] });
      }
      // An empty grant_type is an absent one: the password grant.
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: '', username: 'alice', password: PASSWORD }) });
      expect(res.statusCode).toBe(200);
    });

    it('grant_type may be omitted (FastAPI\'s OAuth2PasswordRequestForm makes it optional)', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ username: 'alice', password: PASSWORD }) });
      expect(res.statusCode, res.body).toBe(200);
    });

    it('unrecognised parameters are ignored (RFC 6749 §3.2), and none is applied: role=admin grants a user nothing more', async () => {
      const res = await t.app.inject({
        method: 'POST', url: '/api/v1/auth/token',
        ...form({ username: 'alice', password: PASSWORD, audience: 'https://api.example.com', nonce: 'n-0S6_WzA2Mj', role: 'admin', is_superuser: 'true' }),
      });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<TokenPair>();
      expect(body.scope).toBe('profile:read profile:write');
      expect(decodeJwt(body.access_token).payload).toMatchObject({ roles: ['user'] });
      const admin = await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(body.access_token) });
      expect(admin.statusCode).toBe(403);
      // A parameter sent twice is still refused (§3.2: "MUST NOT be included more than once").
      const twice = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: `username=alice&password=${encodeURIComponent(PASSWORD)}&password=x`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(twice.statusCode).toBe(422);
    });

    it('every login is a new session: new sid, new refresh token, new jti', async () => {
      const a = await tokenFor(t.app, 'alice');
      const b = await tokenFor(t.app, 'alice');
      expect(decodeJwt(a.access_token).payload.sid).not.toBe(decodeJwt(b.access_token).payload.sid);
      expect(decodeJwt(a.access_token).payload.jti).not.toBe(decodeJwt(b.access_token).payload.jti);
      expect(a.refresh_token).not.toBe(b.refresh_token);
    });

    describe('scope', () => {
      it('a requested subset is what is granted, and enforced', async () => {
        const read = await tokenFor(t.app, 'alice', PASSWORD, { scope: 'profile:read' });
        expect(read.scope).toBe('profile:read');
        expect(decodeJwt(read.access_token).payload.scope).toBe('profile:read');
        expect((await me(t.app, read.access_token)).statusCode).toBe(200);
        const patch = await t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: bearer(read.access_token), payload: { full_name: 'Nope' } });
        expect(patch.statusCode).toBe(403);
        expect(patch.json()).toEqual({ detail: 'Insufficient scope' });
        expect((await t.storage.users.findById(aliceId))?.fullName).toBeNull();

        const write = await tokenFor(t.app, 'alice', PASSWORD, { scope: 'profile:write' });
        const get = await me(t.app, write.access_token);
        expect(get.statusCode).toBe(403);
        expect(get.json()).toEqual({ detail: 'Insufficient scope' });
      });

      it('a refresh may ask for fewer scopes than its session holds, never more (RFC 6749 §6): 400 invalid_scope, and the token lives on', async () => {
        const read = await tokenFor(t.app, 'alice', PASSWORD, { scope: 'profile:read' });
        const refreshGrant = (refresh_token: string, scope?: string) => t.app.inject({
          method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'refresh_token', refresh_token, ...(scope === undefined ? {} : { scope }) }),
        });
        for (const scope of ['profile:read profile:write', 'profile:write', 'admin', 'profile:delete']) {
          const more = await refreshGrant(read.refresh_token, scope);
          expect(more.statusCode, scope).toBe(400);
          expect(more.json()).toMatchObject({ error: 'invalid_scope' });
          expect(more.body).not.toContain('access_token');
        }
        // Refused before rotating: the same refresh token still works, with the session's grant.
        const same = await refreshGrant(read.refresh_token, 'profile:read');
        expect(same.statusCode, same.body).toBe(200);
        expect(same.json().scope).toBe('profile:read');

        const full = await tokenFor(t.app, 'alice');
        const narrowed = await refreshGrant(full.refresh_token, 'profile:read');
        expect(narrowed.json().scope).toBe('profile:read');
        expect(decodeJwt(narrowed.json().access_token).payload.scope).toBe('profile:read');
        // The session keeps its grant: omitted, the scope is the one originally granted.
        const again = await refreshGrant(narrowed.json().refresh_token);
        expect(again.json().scope).toBe('profile:read profile:write');
      });

      it('an unknown scope is 400 invalid_scope and no tokens', async () => {
        for (const scope of ['profile:delete', 'profile:read superuser', 'ADMIN']) {
          const res = await login(t.app, 'alice', PASSWORD, { scope });
          expect(res.statusCode, scope).toBe(400);
          expect(res.json()).toMatchObject({ error: 'invalid_scope' });
          expect(res.body).not.toContain('access_token');
        }
      });

      it('"admin" asked for by a non-admin is simply not granted', async () => {
        const both = await tokenFor(t.app, 'alice', PASSWORD, { scope: 'profile:read admin' });
        expect(both.scope).toBe('profile:read');
        const only = await tokenFor(t.app, 'alice', PASSWORD, { scope: 'admin' });
        expect(only.scope).toBe('');
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(only.access_token) });
        expect(res.statusCode).toBe(403);
      });

      it('an admin gets every scope by default, and only what they ask for otherwise', async () => {
        const all = await tokenFor(t.app, 'root_admin');
        expect(all.scope.split(' ').sort()).toEqual(['admin', 'profile:read', 'profile:write']);
        const narrow = await tokenFor(t.app, 'root_admin', PASSWORD, { scope: 'profile:read' });
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(narrow.access_token) });
        expect(res.statusCode).toBe(403);
        expect(res.json()).toEqual({ detail: 'Insufficient scope' });
      });
    });

    it('a bcrypt hash imported from a FastAPI app signs in, and is re-hashed to argon2id', async () => {
      // passlib's documented example: bcrypt (cost 12) of "secret".
      const imported = await t.storage.users.create({
        username: 'legacy', email: 'legacy@example.com', fullName: null, role: 'user',
        passwordHash: '$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW',
      }, Date.now());
      expect((await login(t.app, 'legacy', 'not secret')).statusCode).toBe(401);
      expect((await t.storage.users.findById(imported.id))?.passwordHash).toMatch(/^\$2b\$/);
      const res = await login(t.app, 'legacy', 'secret');
      expect(res.statusCode, res.body).toBe(200);
      const upgraded = (await t.storage.users.findById(imported.id))!.passwordHash;
      expect(upgraded).toMatch(/^\$argon2id\$/);
      // The new hash is the same password: it still signs in, and the old one is gone for good.
      expect((await login(t.app, 'legacy', 'secret')).statusCode).toBe(200);
      expect((await t.storage.users.findById(imported.id))!.passwordHash).toBe(upgraded);
    });

    it('a wrong password of an imported bcrypt account takes no longer than an unknown name or a wrong argon2id password', async () => {
      // passlib's default cost: a verify about ten times an argon2id one.
      await t.storage.users.create({
        username: 'slow_legacy', email: 'slow.legacy@example.com', fullName: null, role: 'user',
        passwordHash: '$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW',
      }, Date.now());
      const timed = async (name: string, password: string) => {
        const started = performance.now();
        const res = await login(t.app, name, password);
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual(BAD_LOGIN);
        return performance.now() - started;
      };
      // The faster of two: the first also starts the bcrypt worker thread.
      const legacy = Math.min(await timed('slow_legacy', 'not secret'), await timed('slow_legacy', 'still not secret'));
      // Lower bounds only: every refusal waits out the costliest kind of hash seen (a timer), so none
      // can come back in an argon2id's time once a bcrypt account has been tried.
      for (const [name, password] of [['nobody_at_all', 'not secret'], ['alice', 'not secret'], ['nobody_at_all', 'again not secret']] as const) {
        expect(await timed(name, password), name).toBeGreaterThan(legacy * 0.6);
      }
    });
  });
}
