// GET /api/v1/admin/users (q, paging, X-Total-Count, order by id) and PATCH /admin/users/{id}
// (role, is_active): admin role and admin scope required, 404 for unknown ids, the last active
// admin kept, and role changes and deactivation taking effect at once on issued tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import {
  authApp, bearer, expectDeadRefresh, expectInvalidToken, login, me, refresh, register, registerAdmin, tokenFor, type UserJson,
} from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`admin users on ${target.name}`, () => {
    let t: TestApp;
    let adminToken: string;
    let root: UserJson;
    const ids: Record<string, number> = {};
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
      root = await registerAdmin(t.app, 'root');
      for (const name of ['alice', 'Bob_Smith', 'carol', 'dave_b', 'percent_user', 'erin']) {
        ids[name] = (await register(t.app, { username: name, email: `${name.toLowerCase()}@${name === 'carol' ? 'bobcorp.test' : 'example.com'}` })).id;
      }
      adminToken = (await tokenFor(t.app, 'root')).access_token;
    });
    afterAll(() => t?.close());

    const list = (query = '', token = adminToken) => t.app.inject({ method: 'GET', url: `/api/v1/admin/users${query}`, headers: bearer(token) });
    const update = (id: number | string, payload: Record<string, unknown>, token = adminToken) =>
      t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: bearer(token), payload });

    describe('GET /admin/users', () => {
      it('every user, ordered by id, with X-Total-Count', async () => {
        const res = await list();
        expect(res.statusCode, res.body).toBe(200);
        const users = res.json<UserJson[]>();
        expect(res.headers['x-total-count']).toBe('7');
        expect(users.map((u) => u.id)).toEqual([...users.map((u) => u.id)].sort((a, b) => a - b));
        expect(users.map((u) => u.username)).toEqual(['root', 'alice', 'Bob_Smith', 'carol', 'dave_b', 'percent_user', 'erin']);
        expect(Object.keys(users[0]!).sort()).toEqual(['created_at', 'email', 'full_name', 'id', 'is_active', 'mfa_enabled', 'role', 'username']);
        expect(res.body).not.toMatch(/argon2|password/i);
      });

      it('limit and offset page through; X-Total-Count counts every match', async () => {
        const page1 = await list('?limit=2&offset=0');
        const page2 = await list('?limit=2&offset=2');
        const past = await list('?limit=2&offset=50');
        expect(page1.json<UserJson[]>().map((u) => u.username)).toEqual(['root', 'alice']);
        expect(page2.json<UserJson[]>().map((u) => u.username)).toEqual(['Bob_Smith', 'carol']);
        expect(past.json()).toEqual([]);
        for (const res of [page1, page2, past]) expect(res.headers['x-total-count']).toBe('7');
      });

      it('q: a case-insensitive substring of username or email', async () => {
        const bob = await list('?q=BOB');
        // Bob_Smith by username, carol by her email domain.
        expect(bob.json<UserJson[]>().map((u) => u.username)).toEqual(['Bob_Smith', 'carol']);
        expect(bob.headers['x-total-count']).toBe('2');
        const paged = await list('?q=bob&limit=1&offset=1');
        expect(paged.json<UserJson[]>().map((u) => u.username)).toEqual(['carol']);
        expect(paged.headers['x-total-count']).toBe('2');
        expect((await list('?q=EXAMPLE.COM')).headers['x-total-count']).toBe('6');
        expect((await list('?q=nobody-matches-this')).json()).toEqual([]);
      });

      it('q is literal: LIKE wildcards and SQL fragments match only themselves', async () => {
        for (const q of ['%', '_', '\\', "' OR '1'='1", "'; DROP TABLE users; --", '%_%', '"', '*']) {
          const res = await list(`?q=${encodeURIComponent(q)}`);
          expect(res.statusCode, q).toBe(200);
          const names = res.json<UserJson[]>().map((u) => u.username);
          if (q === '_') expect(names).toEqual(['Bob_Smith', 'dave_b', 'percent_user']);
          else expect(names, q).toEqual([]);
        }
        expect((await list()).headers['x-total-count']).toBe('7');
      });

      it('bad paging is a 422 in the FastAPI shape', async () => {
        for (const query of ['?limit=0', '?limit=201', '?limit=abc', '?offset=-1', '?limit=1.5']) {
          const res = await list(query);
          expect(res.statusCode, query).toBe(422);
          expect(res.json().detail[0].loc[0]).toBe('query');
        }
      });

      it('numbers in the query are decimal: hex, binary, octal and exponent forms are 422, as FastAPI answers', async () => {
        for (const query of ['?limit=0x2', '?limit=0b1', '?limit=0o7', '?limit=2e0', '?offset=1e1', '?limit=Infinity']) {
          const res = await list(query);
          expect(res.statusCode, query).toBe(422);
          expect(res.json().detail[0], query).toMatchObject({ loc: ['query', query.slice(1, query.indexOf('='))], type: expect.stringMatching(/^int_/) });
        }
        for (const query of ['?limit=2', '?limit=%2B2', '?limit=%202', '?limit=002&offset=0']) {
          const res = await list(query);
          expect(res.statusCode, query).toBe(200);
          expect(res.json<unknown[]>(), query).toHaveLength(2);
        }
      });
    });

    describe('PATCH /admin/users/{id}', () => {
      it('role change: 200 with the user JSON, audited, and the user\'s old tokens hold the new role at once', async () => {
        const before = await tokenFor(t.app, 'alice');
        const asked = await tokenFor(t.app, 'alice', undefined, { scope: 'profile:read' });
        expect((await list('', before.access_token)).statusCode).toBe(403);
        const res = await update(ids.alice!, { role: 'admin' });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json()).toMatchObject({ id: ids.alice, username: 'alice', role: 'admin', is_active: true });
        // Issued before the promotion: a token of a session following the role reaches admin routes now;
        // one that asked for less keeps what it asked for (the role is there, the scope is not).
        expect((await me(t.app, before.access_token)).json()).toMatchObject({ id: ids.alice, role: 'admin' });
        expect((await list('', before.access_token)).statusCode).toBe(200);
        const short = await list('', asked.access_token);
        expect(short.statusCode).toBe(403);
        expect(short.json()).toEqual({ detail: 'Insufficient scope' });
        // The session lives: a refresh gives a token of the new role. A session granted every scope of
        // its role follows the role, scopes too; one that asked for less keeps what it asked for.
        const next = await refresh(t.app, before.refresh_token);
        expect(next.statusCode).toBe(200);
        expect(next.json().scope.split(' ').sort()).toEqual(['admin', 'profile:read', 'profile:write']);
        expect((await list('', next.json().access_token)).statusCode).toBe(200);
        const narrow = await refresh(t.app, asked.refresh_token);
        expect(narrow.json().scope).toBe('profile:read');
        expect((await list('', narrow.json().access_token)).statusCode).toBe(403);
        const fresh = await tokenFor(t.app, 'alice');
        expect((await list('', fresh.access_token)).statusCode).toBe(200);
        const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'user.role_change', userId: ids.alice });
        expect(events[0]).toMatchObject({ outcome: 'success', details: { from: 'user', to: 'admin', by: root.id } });
      });

      it('demotion: the old admin token is refused on admin routes at once, and is a plain user\'s token elsewhere', async () => {
        const aliceAdmin = await tokenFor(t.app, 'alice');
        expect((await list('', aliceAdmin.access_token)).statusCode).toBe(200);
        expect((await update(ids.alice!, { role: 'user' })).json().role).toBe('user');
        const res = await list('', aliceAdmin.access_token);
        expect(res.statusCode).toBe(403);
        expect(res.json()).toEqual({ detail: 'Insufficient permissions' });
        const patchBack = await update(ids.alice!, { role: 'admin' }, aliceAdmin.access_token);
        expect(patchBack.statusCode).toBe(403);
        expect((await me(t.app, aliceAdmin.access_token)).json()).toMatchObject({ id: ids.alice, role: 'user' });
        // Its admin scope went with the role: it cannot mint an admin-scoped API key either.
        const key = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: bearer(aliceAdmin.access_token), payload: { name: 'k', scopes: ['admin'] } });
        expect(key.statusCode).toBe(422);
        expect((await t.storage.users.findById(ids.alice!))?.role).toBe('user');
        const fresh = await tokenFor(t.app, 'alice');
        const denied = await list('', fresh.access_token);
        expect(denied.statusCode).toBe(403);
        expect(denied.json()).toEqual({ detail: 'Insufficient permissions' });
      });

      it('deactivation: tokens refused, refresh dead, login 403, audited; reactivation lets them back in', async () => {
        const pair = await tokenFor(t.app, 'erin');
        const res = await update(ids.erin!, { is_active: false });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json()).toMatchObject({ id: ids.erin, is_active: false });
        expectInvalidToken(await me(t.app, pair.access_token));
        expectInvalidToken(await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(pair.access_token) }));
        expectDeadRefresh(await refresh(t.app, pair.refresh_token));
        const signIn = await login(t.app, 'erin');
        expect(signIn.statusCode).toBe(403);
        expect(signIn.json()).toEqual({ detail: 'Inactive user' });
        const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'user.deactivate', userId: ids.erin });
        expect(events).toHaveLength(1);

        expect((await update(ids.erin!, { is_active: true })).json().is_active).toBe(true);
        expect((await login(t.app, 'erin')).statusCode).toBe(200);
        // Reactivation does not bring the ended session back.
        expectDeadRefresh(await refresh(t.app, pair.refresh_token));
      });

      it('the last active admin can be neither demoted nor deactivated (409); with two, one can go', async () => {
        for (const body of [{ role: 'user' }, { is_active: false }, { role: 'user', is_active: false }]) {
          const res = await update(root.id, body);
          expect(res.statusCode, JSON.stringify(body)).toBe(409);
          expect(res.json()).toEqual({ detail: 'The last active administrator cannot be demoted or deactivated' });
        }
        expect((await t.storage.users.findById(root.id))).toMatchObject({ role: 'admin', isActive: true });
        expect((await me(t.app, adminToken)).statusCode).toBe(200);

        const second = await registerAdmin(t.app, 'second_admin');
        expect((await update(second.id, { is_active: false })).statusCode).toBe(200);
        expect((await update(root.id, { role: 'user' })).statusCode).toBe(409);
        expect((await update(second.id, { is_active: true })).statusCode).toBe(200);
        expect((await update(second.id, { role: 'user' })).statusCode).toBe(200);
      });

      it('an unchanged or empty patch is a 200 that changes nothing and revokes nothing', async () => {
        const pair = await tokenFor(t.app, 'carol');
        for (const body of [{}, { role: 'user' }, { is_active: true }]) {
          const res = await update(ids.carol!, body);
          expect(res.statusCode).toBe(200);
          expect(res.json()).toMatchObject({ role: 'user', is_active: true });
        }
        expect((await me(t.app, pair.access_token)).statusCode).toBe(200);
      });

      it('unknown ids are 404 "User not found", whatever their shape', async () => {
        for (const id of ['999999', 'abc', '-1', '1.5', '0x10', '1%20OR%201=1', '9'.repeat(40)]) {
          const res = await update(id, { role: 'admin' });
          expect(res.statusCode, id).toBe(404);
          expect(res.json()).toEqual({ detail: 'User not found' });
        }
      });

      it('unknown fields and bad values are 422, never applied', async () => {
        for (const body of [{ email: 'x@example.com' }, { role: 'superuser' }, { is_active: 'no' }, { role: 'admin', password_hash: 'x' }, { authz_version: 0 }]) {
          const res = await update(ids.dave_b!, body);
          expect(res.statusCode, JSON.stringify(body)).toBe(422);
        }
        expect(await t.storage.users.findById(ids.dave_b!)).toMatchObject({ role: 'user', isActive: true, email: 'dave_b@example.com' });
      });

      it('a role outside the choice is one 422 naming every allowed value, as pydantic words a Literal', async () => {
        for (const role of ['superuser', 7, 'Admin']) {
          const res = await update(ids.dave_b!, { role });
          expect(res.statusCode, String(role)).toBe(422);
          expect(res.json(), String(role)).toEqual({ detail: [{ loc: ['body', 'role'], msg: "Input should be 'user' or 'admin'", type: 'literal_error' }] });
        }
        // null is the field left out, as pydantic reads an optional field: nothing changes.
        const before = (await t.storage.users.findById(ids.dave_b!))!.role;
        const nulled = await update(ids.dave_b!, { role: null });
        expect(nulled.statusCode).toBe(200);
        expect((await t.storage.users.findById(ids.dave_b!))!.role).toBe(before);
        const audit = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?action=bogus', headers: bearer(adminToken) });
        expect(audit.statusCode).toBe(422);
        expect(audit.json().detail).toEqual([expect.objectContaining({ loc: ['query', 'action'], type: 'literal_error', msg: expect.stringMatching(/^Input should be 'login\.success', 'login\.failure', .+ or 'lockout'$/) })]);
      });
    });

    describe('who may', () => {
      it('a non-admin gets 403 "Insufficient permissions" on every admin route, even for their own id', async () => {
        const user = (await tokenFor(t.app, 'dave_b')).access_token;
        for (const res of [await list('', user), await update(ids.carol!, { role: 'admin' }, user), await update(ids.dave_b!, { role: 'admin' }, user), await update(root.id, { is_active: false }, user)]) {
          expect(res.statusCode).toBe(403);
          expect(res.json()).toEqual({ detail: 'Insufficient permissions' });
        }
        expect((await t.storage.users.findById(ids.dave_b!))?.role).toBe('user');
        expect((await t.storage.users.findById(root.id))?.isActive).toBe(true);
      });

      it('an admin token without the admin scope gets 403 "Insufficient scope"', async () => {
        const narrow = (await tokenFor(t.app, 'root', undefined, { scope: 'profile:read profile:write' })).access_token;
        for (const res of [await list('', narrow), await update(ids.carol!, { role: 'admin' }, narrow)]) {
          expect(res.statusCode).toBe(403);
          expect(res.json()).toEqual({ detail: 'Insufficient scope' });
          // RFC 6750 §3.1: the challenge says which scope was missing.
          expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="admin"');
        }
        expect((await t.storage.users.findById(ids.carol!))?.role).toBe('user');
      });

      it('no token: 401 with a Bearer challenge', async () => {
        for (const res of [
          await t.app.inject({ method: 'GET', url: '/api/v1/admin/users' }),
          await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${ids.carol}`, payload: { role: 'admin' } }),
        ]) {
          expect(res.statusCode).toBe(401);
          expect(res.headers['www-authenticate']).toBe('Bearer');
        }
      });
    });
  });
}
