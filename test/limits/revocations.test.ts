// The in-process revocation store (src/limits/revocations.ts), used without REDIS_URL: a restarted
// instance reloads from the database what was revoked within one access-token lifetime, so tokens
// revoked before the restart stay refused; entries older than that lifetime are dropped (memory stays
// bounded) because every token they could refuse has expired.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { MemoryRevocationStore } from '../../src/limits/revocations.js';
import { openStorage } from '../../src/storage/index.js';
import { testApp } from '../helpers/app.js';
import { UNLIMITED_ENV, bearer, expectInvalidToken, me, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import { tempDir } from '../helpers/config.js';
import type { TestStorage } from '../helpers/databases.js';

async function fileStorage(url: string): Promise<TestStorage> {
  return Object.assign(await openStorage(url), { url });
}

describe('memory revocations across a restart', () => {
  it('a new process on the same database refuses tokens logged out, deactivated or re-roled before it started', async () => {
    const url = `sqlite:${join(tempDir(), 'gatehouse.db')}`;
    const first = await testApp({ storage: await fileStorage(url), env: UNLIMITED_ENV });
    await registerAdmin(first.app, 'root_admin');
    const admin = await tokenFor(first.app, 'root_admin');
    const names = ['leaver', 'gone', 'promoted', 'stays'];
    const users: Record<string, { id: number; token: string }> = {};
    for (const username of names) {
      const { id } = await register(first.app, { username });
      users[username] = { id, token: (await tokenFor(first.app, username)).access_token };
    }
    expect((await first.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(users.leaver!.token) })).statusCode).toBe(204);
    for (const [username, patch] of [['gone', { is_active: false }], ['promoted', { role: 'admin' }]] as const) {
      const res = await first.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${users[username]!.id}`, headers: bearer(admin.access_token), payload: patch });
      expect(res.statusCode, res.body).toBe(200);
    }
    await first.close();

    const second = await testApp({ storage: await fileStorage(url), env: UNLIMITED_ENV });
    try {
      for (const username of ['leaver', 'gone', 'promoted']) expectInvalidToken(await me(second.app, users[username]!.token));
      expect((await me(second.app, users.stays!.token)).statusCode).toBe(200);
    } finally {
      await second.close();
    }
  });
});

describe('MemoryRevocationStore', () => {
  const TTL = 15 * 60_000;

  it('refuses a revoked session and any token older than the required version, nothing else', async () => {
    const store = new MemoryRevocationStore({ ttlMs: TTL, now: () => Date.now() });
    await store.revokeSessions(['s1']);
    await store.requireAuthzVersion(7, 3);
    expect(store.isRevoked('s1', 1, 1)).toBe(true);
    expect(store.isRevoked('s2', 1, 1)).toBe(false);
    expect(store.isRevoked('s2', 7, 2)).toBe(true);
    expect(store.isRevoked('s2', 7, 3)).toBe(false);
    // A version is only ever raised: a late, lower one does not undo a newer change.
    await store.requireAuthzVersion(7, 2);
    expect(store.isRevoked('s2', 7, 2)).toBe(true);
  });

  it('warms from the database only what is younger than one token lifetime', async () => {
    const clock = new FakeClock();
    const asked: number[] = [];
    const store = new MemoryRevocationStore({ ttlMs: TTL, now: () => clock.now() });
    await store.warm({
      revokedSessionsSince: async (since) => { asked.push(since); return ['old-but-relevant']; },
      authzVersionsChangedSince: async (since) => { asked.push(since); return [{ id: 9, authzVersion: 4 }]; },
    });
    expect(asked).toEqual([clock.now() - TTL, clock.now() - TTL]);
    expect(store.isRevoked('old-but-relevant', 1, 1)).toBe(true);
    expect(store.isRevoked('x', 9, 3)).toBe(true);
  });

  it('drops entries once a token lifetime has passed (bounded memory)', async () => {
    const clock = new FakeClock();
    const store = new MemoryRevocationStore({ ttlMs: TTL, now: () => clock.now() });
    await store.revokeSessions(['early']);
    clock.advance(TTL + 61_000);
    // The next write sweeps: the early entry is gone, the new one is kept.
    await store.revokeSessions(['late']);
    expect(store.isRevoked('early', 1, 1)).toBe(false);
    expect(store.isRevoked('late', 1, 1)).toBe(true);
  });
});
