// Attacks with and on API keys: a key beyond its scopes, a revoked, tampered or malformed key, a
// key trying to manage keys, the password, sessions or MFA, another user's key id, scopes beyond
// the owner's role at creation, a deactivated or demoted owner, the key in logs and in the database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, bearer, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

interface CreatedKey {
  readonly id: string;
  readonly key: string;
  readonly prefix: string;
}

const FORBIDDEN = { detail: 'API keys cannot be used for this action' };
const INVALID = { detail: 'Invalid or expired API key' };

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`API key attacks on ${target.name}`, () => {
    let t: TestApp;
    let aliceToken: string;
    let rootToken: string;
    let rootId: number;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
      await register(t.app, { username: 'alice' });
      await register(t.app, { username: 'bob' });
      rootId = (await registerAdmin(t.app, 'root')).id;
      await registerAdmin(t.app, 'second_admin');
      aliceToken = (await tokenFor(t.app, 'alice')).access_token;
      rootToken = (await tokenFor(t.app, 'root')).access_token;
    });
    afterAll(() => t?.close());

    async function newKey(token: string, scopes = ['profile:read', 'profile:write']): Promise<CreatedKey> {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: bearer(token), payload: { name: 'k', scopes } });
      expect(res.statusCode, res.body).toBe(201);
      return res.json<CreatedKey>();
    }
    const keyHeader = (key: string) => ({ 'x-api-key': key });
    const expectInvalidKey = (res: Awaited<ReturnType<typeof t.app.inject>>) => {
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json()).toEqual(INVALID);
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    };

    it('a key can never manage keys, the password, sessions or MFA: 403 on every such route', async () => {
      const { key, id } = await newKey(aliceToken);
      const attempts = [
        { method: 'POST', url: '/api/v1/api-keys', payload: { name: 'child', scopes: ['profile:read'] } },
        { method: 'GET', url: '/api/v1/api-keys' },
        { method: 'DELETE', url: `/api/v1/api-keys/${id}` },
        { method: 'POST', url: '/api/v1/auth/password', payload: { current_password: PASSWORD, new_password: 'a whole new passphrase' } },
        { method: 'POST', url: '/api/v1/auth/mfa/totp/setup' },
        { method: 'POST', url: '/api/v1/auth/mfa/totp/enable', payload: { code: '123456' } },
        { method: 'POST', url: '/api/v1/auth/mfa/totp/disable', payload: { password: PASSWORD, code: '123456' } },
        { method: 'POST', url: '/api/v1/auth/logout' },
        { method: 'POST', url: '/api/v1/auth/logout-all' },
        { method: 'DELETE', url: '/api/v1/auth/sessions/some-session' },
        { method: 'GET', url: '/api/v1/auth/sessions' },
      ] as const;
      for (const a of attempts) {
        for (const credentials of [{ headers: keyHeader(key), url: a.url }, { headers: {}, url: `${a.url}?api_key=${encodeURIComponent(key)}` }]) {
          const res = await t.app.inject({ method: a.method, url: credentials.url, headers: credentials.headers, ...('payload' in a ? { payload: a.payload } : {}) });
          expect(res.statusCode, `${a.method} ${a.url}: ${res.body}`).toBe(403);
          expect(res.json()).toEqual(FORBIDDEN);
        }
      }
      // Nothing happened: the key lives, the password is unchanged, no child key was made.
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(key) })).statusCode).toBe(200);
      expect((await tokenFor(t.app, 'alice')).token_type).toBe('bearer');
      const keys = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer(aliceToken) });
      expect(keys.json<unknown[]>().filter((k) => (k as { name: string }).name === 'child')).toEqual([]);
    });

    it('a revoked key is 401 on the very next request', async () => {
      const { key, id } = await newKey(aliceToken);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(key) })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${id}`, headers: bearer(aliceToken) })).statusCode).toBe(204);
      expectInvalidKey(await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(key) }));
      expectInvalidKey(await t.app.inject({ method: 'GET', url: `/api/v1/users/me?api_key=${encodeURIComponent(key)}` }));
    });

    it('another user\'s key id is 404 on DELETE, and that key keeps working', async () => {
      const bobs = await newKey((await tokenFor(t.app, 'bob')).access_token);
      const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${bobs.id}`, headers: bearer(aliceToken) });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ detail: 'API key not found' });
      const unknown = await t.app.inject({ method: 'DELETE', url: '/api/v1/api-keys/no-such-key', headers: bearer(aliceToken) });
      expect(unknown.json()).toEqual(res.json());
      const stillBob = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(bobs.key) });
      expect(stillBob.json()).toMatchObject({ username: 'bob' });
      const aliceList = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer(aliceToken) });
      expect(aliceList.body).not.toContain(bobs.id);
    });

    it('an unknown scope, or admin on a user\'s key, is 422 at creation and nothing is created', async () => {
      for (const [scopes, index] of [[['profile:read', 'everything'], 1], [['admin'], 0], [['profile:read', 'admin'], 1], [['Profile:Read'], 0]] as const) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: bearer(aliceToken), payload: { name: 'escalate', scopes } });
        expect(res.statusCode, JSON.stringify(scopes)).toBe(422);
        expect(res.json().detail).toEqual([{ loc: ['body', 'scopes', index], msg: expect.any(String), type: expect.any(String) }]);
      }
      const keys = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer(aliceToken) });
      expect(keys.body).not.toContain('escalate');
    });

    it('a key never holds more than the session that created it', async () => {
      const create = (token: string, scopes: string[]) =>
        t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: bearer(token), payload: { name: 'narrow', scopes } });
      const readOnly = (await tokenFor(t.app, 'alice', PASSWORD, { scope: 'profile:read' })).access_token;
      expect((await create(readOnly, ['profile:read'])).statusCode).toBe(403);
      // An admin signed in without the admin scope cannot mint an admin key.
      const rootNoAdmin = (await tokenFor(t.app, 'root', PASSWORD, { scope: 'profile:write' })).access_token;
      for (const scopes of [['admin'], ['profile:read']]) {
        const res = await create(rootNoAdmin, scopes);
        expect(res.statusCode, JSON.stringify(scopes)).toBe(403);
        expect(res.json()).toEqual({ detail: 'Insufficient scope' });
      }
      expect((await create(rootNoAdmin, ['profile:write'])).statusCode).toBe(201);
    });

    it('a tampered, truncated, malformed or empty key is 401; no key at all is the plain 401', async () => {
      const { key, prefix } = await newKey(aliceToken);
      const secret = key.slice(prefix.length + 1);
      const flipped = `${prefix}_${secret[0] === 'A' ? 'B' : 'A'}${secret.slice(1)}`;
      for (const bad of [flipped, key.slice(0, -1), `${key}x`, `${prefix}_`, 'gk_', 'not-a-key', `${key.toUpperCase()}`, ' ']) {
        expectInvalidKey(await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(bad) }));
      }
      // Two keys at once (header and query) are ambiguous: refused.
      expectInvalidKey(await t.app.inject({ method: 'GET', url: `/api/v1/users/me?api_key=${encodeURIComponent(key)}`, headers: keyHeader(key) }));
      expectInvalidKey(await t.app.inject({ method: 'GET', url: `/api/v1/users/me?api_key=${encodeURIComponent(key)}&api_key=${encodeURIComponent(key)}` }));
      // A bearer token and a key (another user's, or the same one's) are two credentials: refused, neither picked.
      for (const token of [rootToken, aliceToken]) {
        const both = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { ...bearer(token), ...keyHeader(key) } });
        expect(both.statusCode).toBe(401);
        expect(both.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
        // Said as what it is: the key itself is fine.
        expect(both.json()).toEqual({ detail: 'Send one credential: a bearer token or an API key, not both' });
        expect((await t.app.inject({ method: 'GET', url: `/api/v1/users/me?api_key=${encodeURIComponent(key)}`, headers: bearer(token) })).statusCode).toBe(401);
      }
      const none = await t.app.inject({ method: 'GET', url: '/api/v1/users/me' });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
    });

    it('a deactivated owner\'s keys stop working at once', async () => {
      const carol = await register(t.app, { username: 'carol' });
      const { key } = await newKey((await tokenFor(t.app, 'carol')).access_token);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(key) })).statusCode).toBe(200);
      const off = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${carol.id}`, headers: bearer(rootToken), payload: { is_active: false } });
      expect(off.statusCode, off.body).toBe(200);
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(key) });
      expectInvalidKey(res);
      expect(res.body).not.toContain('carol');
      // For good: reactivating the account does not bring the key back (it may be why it was switched off).
      const on = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${carol.id}`, headers: bearer(rootToken), payload: { is_active: true } });
      expect(on.statusCode).toBe(200);
      expectInvalidKey(await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(key) }));
      const list = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer((await tokenFor(t.app, 'carol')).access_token) });
      expect(list.json()).toEqual([]);
      const { events } = await t.app.gatehouse.audit.list({ limit: 10, offset: 0, userId: carol.id, action: 'apikey.revoke' });
      expect(events[0]).toMatchObject({ outcome: 'success', details: { count: 1, reason: 'deactivated' } });
    });

    it('a demoted admin\'s key loses the admin scope at once', async () => {
      const dave = await registerAdmin(t.app, 'dave');
      const { key } = await newKey((await tokenFor(t.app, 'dave')).access_token, ['admin', 'profile:read']);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: keyHeader(key) })).statusCode).toBe(200);
      await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${dave.id}`, headers: bearer(rootToken), payload: { role: 'user' } });
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: keyHeader(key) })).statusCode).toBe(403);
      // It still acts as its (now plain) owner within its other scopes.
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(key) })).statusCode).toBe(200);
    });

    it('a key in the query string never reaches a log line, on success or failure', async () => {
      const { key, prefix } = await newKey(rootToken, ['admin', 'profile:read']);
      const secret = key.slice(prefix.length + 1);
      const before = t.logs.length;
      const urls = [
        `/api/v1/users/me?api_key=${encodeURIComponent(key)}`,
        `/api/v1/admin/users?limit=2&api_key=${encodeURIComponent(key)}`,
        `/api/v1/users/me?api_key=${encodeURIComponent(`${key}x`)}`,
        `/api/v1/api-keys?api_key=${encodeURIComponent(key)}`,
      ];
      const statuses = [];
      for (const url of urls) statuses.push((await t.app.inject({ method: 'GET', url })).statusCode);
      statuses.push((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: keyHeader(key) })).statusCode);
      expect(statuses).toEqual([200, 200, 401, 403, 200]);
      const written = t.logs.slice(before).map((l) => JSON.stringify(l)).join('\n');
      expect(written).toContain('api_key=[REDACTED]');
      expect(written).not.toContain(secret);
      expect(written).not.toContain(encodeURIComponent(secret));
      const audit = await t.storage.audit.list({ limit: 200, offset: 0, userId: rootId });
      expect(JSON.stringify(audit)).not.toContain(secret);
    });

    it('the database holds only a keyed hash of the key', async () => {
      const { key, id, prefix } = await newKey(aliceToken);
      const secret = key.slice(prefix.length + 1);
      const row = await t.storage.handle.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      expect(row.prefix).toBe(prefix);
      expect(JSON.stringify(row)).not.toContain(secret);
      expect(row.secret_hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // Keyed: a plain SHA-256 of the key is not what is stored.
      const { createHash } = await import('node:crypto');
      expect(row.secret_hash).not.toBe(createHash('sha256').update(key).digest('base64url'));
    });
  });
}
