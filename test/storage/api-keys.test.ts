// ApiKeysRepository on every database: lookup by prefix, the owner's live keys, owner-only revocation,
// and a prefix that can never be issued twice.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UniqueViolationError, type ApiKey } from '../../src/storage/index.js';
import { databaseTargets, type TestStorage } from '../helpers/databases.js';

const T0 = 1_750_000_000_000;

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`api keys repository on ${target.name}`, () => {
    let s: TestStorage;
    let seq = 0;
    beforeAll(async () => {
      s = await target.open();
    });
    afterAll(() => s?.close());

    async function user(): Promise<number> {
      seq += 1;
      return (await s.users.create({ username: `keys${seq}`, email: `keys${seq}@example.test`, fullName: null, passwordHash: 'h', role: 'user' }, T0)).id;
    }

    function key(userId: number, prefix: string, overrides: Partial<ApiKey> = {}) {
      return s.apiKeys.create({
        id: randomUUID(), userId, name: `key ${prefix}`, prefix, secretHash: `hash-${prefix}`,
        scopes: ['profile:read', 'sessions:read'], createdAt: T0, expiresAt: null, ...overrides,
      });
    }

    it('creates a key and finds it by prefix, scopes and times intact', async () => {
      const userId = await user();
      const created = await key(userId, 'pfxAAAA1', { expiresAt: T0 + 1000 });
      expect(created).toEqual({
        id: created.id, userId, name: 'key pfxAAAA1', prefix: 'pfxAAAA1', secretHash: 'hash-pfxAAAA1',
        scopes: ['profile:read', 'sessions:read'], createdAt: T0, expiresAt: T0 + 1000, lastUsedAt: null, revokedAt: null,
      });
      expect(await s.apiKeys.findByPrefix('pfxAAAA1')).toEqual(created);
      expect(await s.apiKeys.findByPrefix('pfxaaaa1')).toBeUndefined();
      expect(await s.apiKeys.findByPrefix('nothing')).toBeUndefined();
    });

    it('refuses a second key with the same prefix, naming the field', async () => {
      const userId = await user();
      await key(userId, 'pfxDUP01');
      const err = await key(await user(), 'pfxDUP01').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UniqueViolationError);
      expect(err).toMatchObject({ field: 'prefix' });
      expect((await s.apiKeys.findByPrefix('pfxDUP01'))?.userId).toBe(userId);
    });

    it("listForUser shows the owner's unrevoked keys only, oldest first", async () => {
      const userId = await user();
      const other = await user();
      const second = await key(userId, 'pfxLST02', { createdAt: T0 + 20 });
      const first = await key(userId, 'pfxLST01', { createdAt: T0 + 10 });
      const gone = await key(userId, 'pfxLST03', { createdAt: T0 + 30 });
      await key(other, 'pfxLST04');
      expect(await s.apiKeys.revoke(gone.id, userId, T0 + 40)).toBe(true);
      expect((await s.apiKeys.listForUser(userId)).map((k) => k.prefix)).toEqual([first.prefix, second.prefix]);
      expect((await s.apiKeys.listForUser(other)).map((k) => k.prefix)).toEqual(['pfxLST04']);
      expect(await s.apiKeys.listForUser(await user())).toEqual([]);
    });

    it('revokes only for the owner, once', async () => {
      const owner = await user();
      const intruder = await user();
      const k = await key(owner, 'pfxREV01');
      expect(await s.apiKeys.revoke(k.id, intruder, T0 + 1)).toBe(false);
      expect((await s.apiKeys.findByPrefix('pfxREV01'))?.revokedAt).toBeNull();
      expect(await s.apiKeys.revoke(k.id, owner, T0 + 2)).toBe(true);
      expect(await s.apiKeys.revoke(k.id, owner, T0 + 3)).toBe(false);
      expect((await s.apiKeys.findByPrefix('pfxREV01'))?.revokedAt).toBe(T0 + 2);
      expect(await s.apiKeys.revoke(randomUUID(), owner, T0)).toBe(false);
    });

    it("finds a key with its owner's role and activity in one lookup", async () => {
      const userId = await user();
      const k = await key(userId, 'pfxOWN01');
      expect(await s.apiKeys.findByPrefixWithOwner('pfxOWN01')).toEqual({ key: k, owner: { role: 'user', isActive: true } });
      await s.users.update(userId, { role: 'admin', isActive: false }, T0 + 1);
      expect(await s.apiKeys.findByPrefixWithOwner('pfxOWN01')).toEqual({ key: k, owner: { role: 'admin', isActive: false } });
      expect(await s.apiKeys.findByPrefixWithOwner('pfxNONE1')).toBeUndefined();
    });

    it('records the last use', async () => {
      const k = await key(await user(), 'pfxUSE01');
      await s.apiKeys.touchLastUsed(k.id, T0 + 99);
      expect((await s.apiKeys.findByPrefix('pfxUSE01'))?.lastUsedAt).toBe(T0 + 99);
    });

    it("a user's keys go with the user", async () => {
      const userId = await user();
      await key(userId, 'pfxCAS01');
      await s.handle.db.deleteFrom('users').where('id', '=', userId).execute();
      expect(await s.apiKeys.findByPrefix('pfxCAS01')).toBeUndefined();
    });
  });
}
