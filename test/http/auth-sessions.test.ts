// GET /api/v1/auth/sessions and DELETE /auth/sessions/{id}: a user sees and ends only their own
// live sessions (the caller's marked `current`); another user's session id is a 404 and lives on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, decodeJwt, expectDeadRefresh, expectInvalidToken, me, refresh, register, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

interface SessionJson {
  id: string; created_at: string; last_used_at: string; ip: string | null; user_agent: string | null; current: boolean;
}

const sidOf = (accessToken: string) => String(decodeJwt(accessToken).payload.sid);

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`sessions on ${target.name}`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
      await register(t.app, { username: 'alice' });
      await register(t.app, { username: 'bob' });
    });
    afterAll(() => t?.close());

    const list = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(token) });
    const remove = (token: string, id: string) => t.app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${encodeURIComponent(id)}`, headers: bearer(token) });

    it('lists the caller\'s live sessions only, the calling one marked current', async () => {
      const phone = await tokenFor(t.app, 'alice', undefined, {}, { 'user-agent': 'Phone/1.0' });
      const laptop = await tokenFor(t.app, 'alice', undefined, {}, { 'user-agent': 'Laptop/2.0' });
      const bob = await tokenFor(t.app, 'bob');
      const res = await list(laptop.access_token);
      expect(res.statusCode, res.body).toBe(200);
      const sessions = res.json<SessionJson[]>();
      for (const s of sessions) {
        expect(Object.keys(s).sort()).toEqual(['created_at', 'current', 'id', 'ip', 'last_used_at', 'user_agent']);
        expect(new Date(s.created_at).toISOString()).toBe(s.created_at);
      }
      const ids = sessions.map((s) => s.id);
      expect(ids).toContain(sidOf(phone.access_token));
      expect(ids).toContain(sidOf(laptop.access_token));
      expect(ids).not.toContain(sidOf(bob.access_token));
      expect(sessions.filter((s) => s.current)).toEqual([expect.objectContaining({ id: sidOf(laptop.access_token), user_agent: 'Laptop/2.0', ip: '127.0.0.1' })]);
      expect(sessions.find((s) => s.id === sidOf(phone.access_token))).toMatchObject({ current: false, user_agent: 'Phone/1.0' });
      expect(res.body).not.toContain(laptop.refresh_token);
    });

    it('DELETE of one\'s other session: 204, gone from the list, its tokens dead; the caller\'s lives', async () => {
      const stolen = await tokenFor(t.app, 'alice');
      const mine = await tokenFor(t.app, 'alice');
      const res = await remove(mine.access_token, sidOf(stolen.access_token));
      expect(res.statusCode, res.body).toBe(204);
      expect(res.body).toBe('');
      expectInvalidToken(await me(t.app, stolen.access_token));
      expectDeadRefresh(await refresh(t.app, stolen.refresh_token));
      const ids = (await list(mine.access_token)).json<SessionJson[]>().map((s) => s.id);
      expect(ids).not.toContain(sidOf(stolen.access_token));
      expect((await me(t.app, mine.access_token)).statusCode).toBe(200);
      // Already ended: now a 404.
      expect((await remove(mine.access_token, sidOf(stolen.access_token))).statusCode).toBe(404);
    });

    it('DELETE of the current session signs the caller out', async () => {
      const pair = await tokenFor(t.app, 'alice');
      expect((await remove(pair.access_token, sidOf(pair.access_token))).statusCode).toBe(204);
      expectInvalidToken(await me(t.app, pair.access_token));
      expectDeadRefresh(await refresh(t.app, pair.refresh_token));
    });

    it('another user\'s session id is 404 "Session not found", and that session lives on', async () => {
      const bob = await tokenFor(t.app, 'bob');
      const alice = await tokenFor(t.app, 'alice');
      const res = await remove(alice.access_token, sidOf(bob.access_token));
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ detail: 'Session not found' });
      expect((await me(t.app, bob.access_token)).statusCode).toBe(200);
      expect((await refresh(t.app, bob.refresh_token)).statusCode).toBe(200);
    });

    it('unknown, hostile and over-long ids are a 404, never a 5xx', async () => {
      const alice = await tokenFor(t.app, 'alice');
      for (const id of ['nope', "' OR '1'='1", '%', '1; DROP TABLE sessions', 'x'.repeat(150)]) {
        const res = await remove(alice.access_token, id);
        expect(res.statusCode, id).toBe(404);
      }
      expect((await remove(alice.access_token, 'y'.repeat(300))).statusCode).toBeLessThan(500);
      expect((await me(t.app, alice.access_token)).statusCode).toBe(200);
    });

    it('listing needs profile:read, ending a session needs profile:write', async () => {
      const write = await tokenFor(t.app, 'alice', undefined, { scope: 'profile:write' });
      const read = await tokenFor(t.app, 'alice', undefined, { scope: 'profile:read' });
      const denied = await list(write.access_token);
      expect(denied.statusCode).toBe(403);
      expect(denied.json()).toEqual({ detail: 'Insufficient scope' });
      const del = await remove(read.access_token, sidOf(write.access_token));
      expect(del.statusCode).toBe(403);
      expect((await me(t.app, read.access_token)).statusCode).toBe(200);
      expect((await remove(write.access_token, sidOf(read.access_token))).statusCode).toBe(204);
    });

    it('no token: 401 with a Bearer challenge', async () => {
      for (const res of [
        await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions' }),
        await t.app.inject({ method: 'DELETE', url: '/api/v1/auth/sessions/abc' }),
      ]) {
        expect(res.statusCode).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
    });
  });
}
