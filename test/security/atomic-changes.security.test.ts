// Changes that end sessions commit whole or not at all. A deactivation (the account switched off,
// its sessions and API keys ended, the events audited), a password change (the new hash, the
// other sessions ended, the event audited) and a logout are one transaction each: a database fault after the
// first write — here the audit insert refused by a trigger, as a failing database would — leaves
// the account exactly as it was, never switched off with its sessions alive. A deactivation that an
// older version left half done is completed by repeating it.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, expectDeadRefresh, expectInvalidToken, me, PASSWORD, refresh, register, registerAdmin, tokenFor, type TokenPair } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`changes that end sessions are atomic on ${target.name}`, () => {
    let t: TestApp;
    let adminToken: string;
    let userNo = 0;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
      await registerAdmin(t.app, 'root');
      adminToken = (await tokenFor(t.app, 'root')).access_token;
    });
    afterAll(() => t?.close());

    const db = () => t.storage.handle.db;
    /** Makes the database refuse audit events of `action` until the returned function is called. */
    async function refuseAudit(action: string): Promise<() => Promise<void>> {
      if (target.name === 'sqlite') {
        await sql.raw(`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events WHEN NEW.action = '${action}' BEGIN SELECT RAISE(ABORT, 'refused'); END`).execute(db());
        return async () => { await sql`DROP TRIGGER refuse_audit`.execute(db()); };
      }
      await sql.raw(`CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN IF NEW.action = '${action}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`).execute(db());
      await sql`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()`.execute(db());
      return async () => {
        await sql`DROP TRIGGER refuse_audit ON audit_events`.execute(db());
        await sql`DROP FUNCTION refuse_audit()`.execute(db());
      };
    }

    /** A user signed in twice (two devices), with an API key. */
    async function account() {
      const username = `member${++userNo}`;
      const { id } = await register(t.app, { username });
      const first = await tokenFor(t.app, username);
      const second = await tokenFor(t.app, username);
      const created = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: bearer(first.access_token), payload: { name: 'k', scopes: ['profile:read'] } });
      expect(created.statusCode, created.body).toBe(201);
      return { id, username, first, second, key: created.json<{ key: string }>().key };
    }
    const keyStatus = async (key: string) => (await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-api-key': key } })).statusCode;
    const deactivate = (id: number) => t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: bearer(adminToken), payload: { is_active: false } });
    const expectAlive = async (pair: TokenPair) => {
      expect((await me(t.app, pair.access_token)).statusCode).toBe(200);
    };

    it('a deactivation that fails part-way changes nothing: the account stays on, its sessions and key work', async () => {
      const u = await account();
      const restore = await refuseAudit('user.deactivate');
      try {
        const res = await deactivate(u.id);
        expect(res.statusCode).toBeGreaterThanOrEqual(500);
        expect(res.body).not.toMatch(/refused|trigger|audit_events/i);
      } finally {
        await restore();
      }
      expect((await t.storage.users.findById(u.id))?.isActive).toBe(true);
      await expectAlive(u.first);
      expect(await keyStatus(u.key)).toBe(200);
      const rotated = await refresh(t.app, u.second.refresh_token);
      expect(rotated.statusCode).toBe(200);
      // Done again with the database well, it is done whole.
      expect((await deactivate(u.id)).statusCode).toBe(200);
      expectInvalidToken(await me(t.app, u.first.access_token));
      expectDeadRefresh(await refresh(t.app, rotated.json<TokenPair>().refresh_token));
      expect(await keyStatus(u.key)).toBe(401);
    });

    it('a deactivation left half done (account off, sessions and keys alive) is completed by repeating it', async () => {
      const u = await account();
      // What a crash between the switch and the rest left behind before these changes were one transaction.
      await sql`UPDATE users SET is_active = 0, authz_version = authz_version + 1 WHERE id = ${u.id}`.execute(db());
      const res = await deactivate(u.id);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ id: u.id, is_active: false });
      expect(await keyStatus(u.key)).toBe(401);
      expectDeadRefresh(await refresh(t.app, u.second.refresh_token));
      // Reactivation brings back none of it.
      expect((await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${u.id}`, headers: bearer(adminToken), payload: { is_active: true } })).statusCode).toBe(200);
      expect(await keyStatus(u.key)).toBe(401);
      expectDeadRefresh(await refresh(t.app, u.second.refresh_token));
      expectInvalidToken(await me(t.app, u.first.access_token));
    });

    it('a logout or logout-all whose audit event cannot be written ends nothing: never a session ended unaudited', async () => {
      const u = await account();
      const restore = await refuseAudit('logout');
      try {
        for (const path of ['/api/v1/auth/logout', '/api/v1/auth/logout-all']) {
          const res = await t.app.inject({ method: 'POST', url: path, headers: bearer(u.first.access_token) });
          expect(res.statusCode, path).toBeGreaterThanOrEqual(500);
        }
      } finally {
        await restore();
      }
      await expectAlive(u.first);
      await expectAlive(u.second);
      // Not ended in the database either (where every other instance and a restart would look).
      const sessions = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(u.second.access_token) });
      expect(sessions.json<unknown[]>()).toHaveLength(2);
      const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(u.first.access_token) });
      expect(out.statusCode).toBe(204);
      expectInvalidToken(await me(t.app, u.first.access_token));
      await expectAlive(u.second);
    });

    it('a password change that fails part-way changes nothing: the old password and the other session still work', async () => {
      const u = await account();
      const restore = await refuseAudit('password.change');
      try {
        const res = await t.app.inject({
          method: 'POST', url: '/api/v1/auth/password', headers: bearer(u.first.access_token),
          payload: { current_password: PASSWORD, new_password: 'an entirely new passphrase 7' },
        });
        expect(res.statusCode).toBeGreaterThanOrEqual(500);
      } finally {
        await restore();
      }
      await expectAlive(u.second);
      expect((await refresh(t.app, u.second.refresh_token)).statusCode).toBe(200);
      expect((await tokenFor(t.app, u.username)).access_token).toBeTruthy();
    });
  });
}
