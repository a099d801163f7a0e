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
  it('a new process on the same database refuses tokens logged out or deactivated before it started, and holds re-roled ones to the new role', async () => {
    const url = `sqlite:${join(tempDir(), 'gatehouse.db')}`;
    const first = await testApp({ storage: await fileStorage(url), env: UNLIMITED_ENV });
    await registerAdmin(first.app, 'root_admin');
    const admin = await tokenFor(first.app, 'root_admin');
    const deputy = await registerAdmin(first.app, 'deputy');
    const deputyToken = (await tokenFor(first.app, 'deputy')).access_token;
    const names = ['leaver', 'gone', 'promoted', 'stays'];
    const users: Record<string, { id: number; token: string }> = {};
    for (const username of names) {
      const { id } = await register(first.app, { username });
      users[username] = { id, token: (await tokenFor(first.app, username)).access_token };
    }
    expect((await first.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(users.leaver!.token) })).statusCode).toBe(204);
    for (const [id, patch] of [[users.gone!.id, { is_active: false }], [users.promoted!.id, { role: 'admin' }], [deputy.id, { role: 'user' }]] as const) {
      const res = await first.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: bearer(admin.access_token), payload: patch });
      expect(res.statusCode, res.body).toBe(200);
    }
    await first.close();

    const second = await testApp({ storage: await fileStorage(url), env: UNLIMITED_ENV });
    const adminList = (token: string) => second.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(token) });
    try {
      for (const username of ['leaver', 'gone']) expectInvalidToken(await me(second.app, users[username]!.token));
      expect((await me(second.app, users.stays!.token)).statusCode).toBe(200);
      expect((await adminList(users.promoted!.token)).statusCode).toBe(200);
      expect((await me(second.app, deputyToken)).statusCode).toBe(200);
      const demoted = await adminList(deputyToken);
      expect(demoted.statusCode).toBe(403);
      expect(demoted.json()).toEqual({ detail: 'Insufficient permissions' });
    } finally {
      await second.close();
    }
  });
});

describe('MemoryRevocationStore', () => {
  const TTL = 15 * 60_000;

  it('refuses a revoked session; a token older than its user\'s authorisation follows it (refused if inactive); nothing else', async () => {
    const store = new MemoryRevocationStore({ ttlMs: TTL, now: () => Date.now() });
    await store.revokeSessions(['s1']);
    await store.recordAuthorisation(7, { version: 3, role: 'user', active: true });
    await store.recordAuthorisation(8, { version: 2, role: 'admin', active: false });
    expect(store.standing('s1', 1, 1)).toEqual({ kind: 'revoked' });
    expect(store.standing('s2', 1, 1)).toEqual({ kind: 'as-issued' });
    expect(store.standing('s2', 7, 2)).toEqual({ kind: 're-roled', role: 'user' });
    expect(store.standing('s2', 7, 3)).toEqual({ kind: 'as-issued' });
    expect(store.standing('s2', 8, 1)).toEqual({ kind: 'revoked' });
    // A revoked session stays revoked whatever its user's authorisation says.
    expect(store.standing('s1', 7, 2)).toEqual({ kind: 'revoked' });
    // Only ever forward: a late, older change does not undo a newer one.
    await store.recordAuthorisation(7, { version: 2, role: 'admin', active: true });
    expect(store.standing('s2', 7, 1)).toEqual({ kind: 're-roled', role: 'user' });
    await store.recordAuthorisation(7, { version: 4, role: 'user', active: false });
    expect(store.standing('s2', 7, 3)).toEqual({ kind: 'revoked' });
  });

  it('warms from the database only what is younger than one token lifetime', async () => {
    const clock = new FakeClock();
    const asked: number[] = [];
    const store = new MemoryRevocationStore({ ttlMs: TTL, now: () => clock.now() });
    await store.loadSince({
      revokedSessionsSince: async (since) => { asked.push(since); return ['old-but-relevant']; },
      authorisationsChangedSince: async (since) => {
        asked.push(since);
        return [{ userId: 9, version: 4, role: 'admin', active: true }, { userId: 10, version: 2, role: 'user', active: false }];
      },
    });
    expect(asked).toEqual([clock.now() - TTL, clock.now() - TTL]);
    expect(store.standing('old-but-relevant', 1, 1)).toEqual({ kind: 'revoked' });
    expect(store.standing('x', 9, 3)).toEqual({ kind: 're-roled', role: 'admin' });
    expect(store.standing('x', 9, 4)).toEqual({ kind: 'as-issued' });
    expect(store.standing('x', 10, 1)).toEqual({ kind: 'revoked' });
  });

  it('drops entries once a token lifetime has passed (bounded memory)', async () => {
    const clock = new FakeClock();
    const store = new MemoryRevocationStore({ ttlMs: TTL, now: () => clock.now() });
    await store.revokeSessions(['early']);
    clock.advance(TTL + 61_000);
    // The next write sweeps: the early entry is gone, the new one is kept.
    await store.revokeSessions(['late']);
    expect(store.standing('early', 1, 1)).toEqual({ kind: 'as-issued' });
    expect(store.standing('late', 1, 1)).toEqual({ kind: 'revoked' });
  });
});
