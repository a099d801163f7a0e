// /api/v1/api-keys through the real routes: the created key (shown once, no-store, prefix + 256-bit
// secret), the list without secrets, X-API-Key and ?api_key= authentication within the key's scopes,
// expiry and last_used_at on a fake clock, revocation at once, and the audit trail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

const DAY = 86_400_000;

interface CreatedKey {
  readonly id: string;
  readonly name: string;
  readonly key: string;
  readonly prefix: string;
  readonly scopes: string[];
  readonly expires_at: string | null;
}

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`API keys on ${target.name}`, () => {
    let t: TestApp;
    const clock = new FakeClock(Date.UTC(2026, 4, 1, 9, 0, 0));
    let aliceToken: string;
    let aliceId: number;
    beforeAll(async () => {
      t = await authApp({ clock, storage: await target.open() });
      aliceId = (await register(t.app, { username: 'alice' })).id;
      aliceToken = (await tokenFor(t.app, 'alice')).access_token;
    });
    afterAll(() => t?.close());

    const create = (token: string, payload: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: bearer(token), payload });
    async function newKey(token: string, payload: Record<string, unknown> = {}): Promise<CreatedKey> {
      const res = await create(token, { name: 'ci', scopes: ['profile:read'], ...payload });
      expect(res.statusCode, res.body).toBe(201);
      return res.json<CreatedKey>();
    }
    const withKey = (key: string, url = '/api/v1/users/me', method: 'GET' | 'PATCH' = 'GET', payload?: Record<string, unknown>) =>
      t.app.inject({ method, url, headers: { 'x-api-key': key }, ...(payload ? { payload } : {}) });
    const list = async () => (await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer(aliceToken) })).json<Record<string, unknown>[]>();

    it('201 with the key shown once: prefix of at most 12 characters plus at least 32 URL-safe random ones; no-store', async () => {
      const res = await create(aliceToken, { name: 'deploy bot', scopes: ['profile:read', 'profile:write'] });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json<CreatedKey>();
      expect(body).toEqual({
        id: expect.any(String), name: 'deploy bot', key: expect.any(String), prefix: expect.any(String),
        scopes: ['profile:read', 'profile:write'], expires_at: null,
      });
      expect(body.prefix.length).toBeLessThanOrEqual(12);
      expect(body.key.startsWith(body.prefix)).toBe(true);
      const secret = body.key.slice(body.prefix.length + 1);
      expect(secret).toMatch(/^[A-Za-z0-9_-]{32,}$/);
      expect(Buffer.from(secret, 'base64url').length).toBeGreaterThanOrEqual(32);
      expect((await newKey(aliceToken)).key).not.toBe(body.key);
    });

    it('the list shows the caller\'s keys without any secret', async () => {
      const created = await newKey(aliceToken, { name: 'listed' });
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer(aliceToken) });
      expect(res.statusCode).toBe(200);
      const entry = res.json<Record<string, unknown>[]>().find((k) => k.id === created.id);
      expect(entry).toEqual({
        id: created.id, name: 'listed', prefix: created.prefix, scopes: ['profile:read'],
        created_at: new Date(clock.now()).toISOString(), expires_at: null, last_used_at: null,
      });
      expect(res.body).not.toContain(created.key.slice(created.prefix.length + 1));
    });

    it('X-API-Key and ?api_key= both act as the owner', async () => {
      const { key } = await newKey(aliceToken);
      const byHeader = await withKey(key);
      expect(byHeader.statusCode, byHeader.body).toBe(200);
      expect(byHeader.json()).toMatchObject({ id: aliceId, username: 'alice' });
      const byQuery = await t.app.inject({ method: 'GET', url: `/api/v1/users/me?api_key=${encodeURIComponent(key)}` });
      expect(byQuery.statusCode, byQuery.body).toBe(200);
      expect(byQuery.json()).toMatchObject({ id: aliceId });
    });

    it('a key works only within its scopes: read-only cannot write (403 Insufficient scope)', async () => {
      const readOnly = await newKey(aliceToken, { scopes: ['profile:read'] });
      const denied = await withKey(readOnly.key, '/api/v1/users/me', 'PATCH', { full_name: 'Mallory' });
      expect(denied.statusCode).toBe(403);
      expect(denied.json()).toEqual({ detail: 'Insufficient scope' });
      const writer = await newKey(aliceToken, { scopes: ['profile:write'] });
      expect((await withKey(writer.key)).statusCode).toBe(403);
      const patched = await withKey(writer.key, '/api/v1/users/me', 'PATCH', { full_name: 'Alice A.' });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json()).toMatchObject({ full_name: 'Alice A.' });
    });

    it('an admin\'s key with the admin scope reaches admin routes; without it, it does not', async () => {
      await registerAdmin(t.app, 'root');
      const rootToken = (await tokenFor(t.app, 'root')).access_token;
      const adminKey = await newKey(rootToken, { scopes: ['admin', 'profile:read'] });
      const res = await withKey(adminKey.key, '/api/v1/admin/users?limit=5');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['x-total-count']).toBeDefined();
      const plain = await newKey(rootToken, { scopes: ['profile:read'] });
      expect((await withKey(plain.key, '/api/v1/admin/users')).statusCode).toBe(403);
    });

    it('expires_in_days sets expires_at; past it the key is 401', async () => {
      const created = await newKey(aliceToken, { expires_in_days: 7 });
      expect(created.expires_at).toBe(new Date(clock.now() + 7 * DAY).toISOString());
      clock.advance(7 * DAY - 1000);
      expect((await withKey(created.key)).statusCode).toBe(200);
      clock.advance(1000);
      const expired = await withKey(created.key);
      expect(expired.statusCode).toBe(401);
      expect(expired.json()).toEqual({ detail: 'Invalid or expired API key' });
      expect(expired.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      // Time moved a week: a fresh token for the rest of the file.
      aliceToken = (await tokenFor(t.app, 'alice')).access_token;
    });

    it('last_used_at is written on use, at most once a minute', async () => {
      const created = await newKey(aliceToken, { name: 'touched' });
      const lastUsed = async () => {
        await t.app.gatehouse.apiKeys.settled();
        return (await list()).find((k) => k.id === created.id)!.last_used_at;
      };
      const first = clock.now();
      await withKey(created.key);
      expect(await lastUsed()).toBe(new Date(first).toISOString());
      clock.advance(30_000);
      await withKey(created.key);
      expect(await lastUsed()).toBe(new Date(first).toISOString());
      clock.advance(31_000);
      await withKey(created.key);
      expect(await lastUsed()).toBe(new Date(clock.now()).toISOString());
    });

    it('DELETE revokes at once: 204, then the key is 401 and gone from the list; again 404', async () => {
      const created = await newKey(aliceToken, { name: 'short lived' });
      expect((await withKey(created.key)).statusCode).toBe(200);
      const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${created.id}`, headers: bearer(aliceToken) });
      expect(res.statusCode, res.body).toBe(204);
      expect((await withKey(created.key)).statusCode).toBe(401);
      expect((await list()).some((k) => k.id === created.id)).toBe(false);
      const again = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${created.id}`, headers: bearer(aliceToken) });
      expect(again.statusCode).toBe(404);
      expect(again.json()).toEqual({ detail: 'API key not found' });
    });

    it('creation and revocation are audited, never with the key', async () => {
      const created = await newKey(aliceToken, { name: 'audited' });
      await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${created.id}`, headers: bearer(aliceToken) });
      const made = await t.storage.audit.list({ limit: 50, offset: 0, action: 'apikey.create', userId: aliceId });
      const revoked = await t.storage.audit.list({ limit: 50, offset: 0, action: 'apikey.revoke', userId: aliceId });
      expect(made.events.find((e) => e.details?.api_key_id === created.id)).toMatchObject({ outcome: 'success' });
      expect(revoked.events.find((e) => e.details?.api_key_id === created.id)).toMatchObject({ outcome: 'success' });
      expect(JSON.stringify([made, revoked])).not.toContain(created.key.slice(created.prefix.length + 1));
    });

    it('bad requests: missing fields, empty scopes and unknown fields are 422; no credentials is 401', async () => {
      for (const payload of [{ scopes: ['profile:read'] }, { name: 'x' }, { name: 'x', scopes: [] }, { name: 'x', scopes: ['profile:read'], user_id: 1 }, { name: 'x', scopes: ['profile:read'], expires_in_days: 0 }]) {
        const res = await create(aliceToken, payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(422);
        expect(Array.isArray(res.json().detail)).toBe(true);
      }
      const anonymous = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys' });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    });
  });
}
