// SessionsRepository on every database: live sessions, idempotent revocation, refresh-token rotation
// that only one racing request can win, and cascade deletion with the user.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../src/storage/index.js';
import { databaseTargets, type TestStorage } from '../helpers/databases.js';

const T0 = 1_750_000_000_000;
const HOUR = 3_600_000;

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`sessions repository on ${target.name}`, () => {
    let s: TestStorage;
    let seq = 0;
    beforeAll(async () => {
      s = await target.open();
    });
    afterAll(() => s?.close());

    async function user(): Promise<number> {
      seq += 1;
      const u = await s.users.create({ username: `sess${seq}`, email: `sess${seq}@example.test`, fullName: null, passwordHash: 'h', role: 'user' }, T0);
      return u.id;
    }

    function session(userId: number, createdAt = T0, overrides: Partial<Session> = {}) {
      return s.sessions.create({
        id: randomUUID(), userId, kind: 'browser', createdAt, expiresAt: createdAt + 24 * HOUR,
        ip: '203.0.113.9', userAgent: 'test-agent', scope: 'profile', ...overrides,
      });
    }

    it('creates a session and finds it by id', async () => {
      const userId = await user();
      const created = await session(userId, T0, { kind: 'token', userAgent: 'x'.repeat(600) });
      expect(created).toEqual({
        id: created.id, userId, kind: 'token', createdAt: T0, lastUsedAt: T0, expiresAt: T0 + 24 * HOUR,
        revokedAt: null, revokedReason: null, ip: '203.0.113.9', userAgent: 'x'.repeat(512), scope: 'profile',
      });
      expect(await s.sessions.findById(created.id)).toEqual(created);
      expect(await s.sessions.findById(randomUUID())).toBeUndefined();
    });

    it('touch records the last use, address and agent', async () => {
      const created = await session(await user());
      await s.sessions.touch(created.id, T0 + 5000, '198.51.100.1', 'other-agent');
      expect(await s.sessions.findById(created.id)).toMatchObject({ lastUsedAt: T0 + 5000, ip: '198.51.100.1', userAgent: 'other-agent', createdAt: T0 });
    });

    it('listLive excludes revoked and expired sessions, newest first', async () => {
      const userId = await user();
      const old = await session(userId, T0);
      const newer = await session(userId, T0 + 1000);
      const expired = await session(userId, T0 + 2000, { expiresAt: T0 + 10 * HOUR });
      const revoked = await session(userId, T0 + 3000);
      await s.sessions.revoke(revoked.id, 'logout', T0 + 4000);
      const other = await session(await user(), T0 + 5000);
      const now = T0 + 10 * HOUR; // `expired` ends exactly now: no longer live
      expect((await s.sessions.listLive(userId, now)).map((x) => x.id)).toEqual([newer.id, old.id]);
      expect((await s.sessions.listLive(userId, T0 + 5000)).map((x) => x.id)).toEqual([expired.id, newer.id, old.id]);
      expect((await s.sessions.listLive(other.userId, now)).map((x) => x.id)).toEqual([other.id]);
    });

    it('revoke is idempotent: true once, then false', async () => {
      const created = await session(await user());
      expect(await s.sessions.revoke(created.id, 'logout', T0 + 10)).toBe(true);
      expect(await s.sessions.revoke(created.id, 'admin', T0 + 20)).toBe(false);
      expect(await s.sessions.findById(created.id)).toMatchObject({ revokedAt: T0 + 10, revokedReason: 'logout' });
      expect(await s.sessions.revoke(randomUUID(), 'logout', T0)).toBe(false);
    });

    it('revokeAllForUser revokes every live session of that user, keeping one when asked', async () => {
      const userId = await user();
      const [a, b, c] = [await session(userId), await session(userId), await session(userId)];
      const bystander = await session(await user());
      const first = await s.sessions.revokeAllForUser(userId, 'password.change', T0 + 100, a!.id);
      expect(first.sort()).toEqual([b!.id, c!.id].sort());
      expect((await s.sessions.listLive(userId, T0 + 200)).map((x) => x.id)).toEqual([a!.id]);
      expect(await s.sessions.findById(b!.id)).toMatchObject({ revokedAt: T0 + 100, revokedReason: 'password.change' });
      const second = await s.sessions.revokeAllForUser(userId, 'user.deactivate', T0 + 300);
      expect(second).toEqual([a!.id]);
      expect(await s.sessions.findById(b!.id)).toMatchObject({ revokedAt: T0 + 100, revokedReason: 'password.change' });
      expect(await s.sessions.revokeAllForUser(userId, 'again', T0 + 400)).toEqual([]);
      expect(await s.sessions.findById(bystander.id)).toMatchObject({ revokedAt: null });
    });

    it('revokedSince lists sessions revoked at or after a time', async () => {
      const userId = await user();
      const early = await session(userId);
      const late = await session(userId);
      await s.sessions.revoke(early.id, 'logout', T0 + 50 * HOUR);
      await s.sessions.revoke(late.id, 'logout', T0 + 60 * HOUR);
      const since = await s.sessions.revokedSince(T0 + 60 * HOUR);
      expect(since).toContain(late.id);
      expect(since).not.toContain(early.id);
      expect(await s.sessions.revokedSince(T0 + 50 * HOUR)).toEqual(expect.arrayContaining([early.id, late.id]));
    });

    it('stores refresh tokens and marks one rotated only once', async () => {
      const created = await session(await user());
      await s.sessions.insertRefreshToken({ tokenHash: 'rt-1', sessionId: created.id, createdAt: T0, expiresAt: T0 + HOUR });
      expect(await s.sessions.findRefreshToken('rt-1')).toEqual({ tokenHash: 'rt-1', sessionId: created.id, createdAt: T0, expiresAt: T0 + HOUR, rotatedAt: null });
      expect(await s.sessions.findRefreshToken('rt-unknown')).toBeUndefined();
      expect(await s.sessions.markRotated('rt-1', T0 + 10)).toBe(true);
      expect(await s.sessions.markRotated('rt-1', T0 + 20)).toBe(false);
      expect((await s.sessions.findRefreshToken('rt-1'))?.rotatedAt).toBe(T0 + 10);
      expect(await s.sessions.markRotated('rt-unknown', T0)).toBe(false);
      await expect(s.sessions.insertRefreshToken({ tokenHash: 'rt-orphan', sessionId: randomUUID(), createdAt: T0, expiresAt: T0 + HOUR }))
        .rejects.toThrow();
    });

    it('two concurrent markRotated calls: exactly one wins', async () => {
      const created = await session(await user());
      for (let i = 0; i < 5; i++) {
        const hash = `rt-race-${i}`;
        await s.sessions.insertRefreshToken({ tokenHash: hash, sessionId: created.id, createdAt: T0, expiresAt: T0 + HOUR });
        const results = await Promise.all([s.sessions.markRotated(hash, T0 + 1), s.sessions.markRotated(hash, T0 + 2)]);
        expect(results.filter(Boolean), hash).toHaveLength(1);
      }
    });

    it('prunes only expired refresh tokens', async () => {
      const created = await session(await user());
      await s.sessions.insertRefreshToken({ tokenHash: 'rt-old', sessionId: created.id, createdAt: T0, expiresAt: T0 + 1 });
      await s.sessions.insertRefreshToken({ tokenHash: 'rt-live', sessionId: created.id, createdAt: T0, expiresAt: T0 + 1000 * HOUR });
      expect(await s.sessions.pruneExpiredRefreshTokens(T0 + 2)).toBeGreaterThanOrEqual(1);
      expect(await s.sessions.findRefreshToken('rt-old')).toBeUndefined();
      expect(await s.sessions.findRefreshToken('rt-live')).toBeDefined();
    });

    it('deleting the user deletes its sessions and refresh tokens (foreign keys are on)', async () => {
      const userId = await user();
      const created = await session(userId);
      await s.sessions.insertRefreshToken({ tokenHash: 'rt-cascade', sessionId: created.id, createdAt: T0, expiresAt: T0 + HOUR });
      // No repository deletes users yet; the cascade is the schema's promise, so check it directly.
      await s.handle.db.deleteFrom('users').where('id', '=', userId).execute();
      expect(await s.sessions.findById(created.id)).toBeUndefined();
      expect(await s.sessions.findRefreshToken('rt-cascade')).toBeUndefined();
      await expect(session(userId)).rejects.toThrow();
    });
  });
}
