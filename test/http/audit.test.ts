// Contract "Audit log" and GET /api/v1/admin/audit, on SQLite and PostgreSQL: admin only; newest
// first; exactly {id, time, action, user_id, ip, user_agent, request_id, outcome}; request_id is the
// X-Request-ID of the request that caused the event; user_id / action filters, paging and
// X-Total-Count; each of the contract's thirteen events appears after the action that causes it, in
// the database and in the log; no password, token, key, TOTP secret or recovery code in any stored
// row, response or log line. And (PostgreSQL) an
// audited action whose audit write cannot happen fails with 503 instead of succeeding unaudited.
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatehouseApp } from '../../src/app.js';
import { AUDIT_ACTIONS } from '../../src/services/audit.js';
import { openStorage } from '../../src/storage/index.js';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, bearer, form, registerAdmin, register, tokenFor, type TokenPair } from '../helpers/auth.js';
import { databaseTargets, type TestStorage, withAdmin } from '../helpers/databases.js';
import { totpCode } from '../helpers/mfa.js';
import { resetLinkToken } from '../helpers/smtp.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const FIELDS = ['action', 'id', 'ip', 'outcome', 'request_id', 'time', 'user_agent', 'user_id'];
const UA = 'audit-test/1.0';

interface AuditRow {
  readonly id: number;
  readonly time: string;
  readonly action: string;
  readonly user_id: number | null;
  readonly ip: string | null;
  readonly user_agent: string | null;
  readonly request_id: string | null;
  readonly outcome: string;
}

const rid = (label: string) => `${label}-${randomBytes(6).toString('hex')}`;

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`audit log on ${target.name}`, () => {
    let t: TestApp;
    let adminToken: string;
    let alice: { id: number };
    /** Every secret this file typed or received; none may appear in a stored row, a response or a log line. */
    const secrets = new Set<string>([PASSWORD]);
    const startedAt = Date.now();

    beforeAll(async () => {
      t = await authApp({ storage: await target.open(), env: { LOCKOUT_THRESHOLD: '3' } });
      await registerAdmin(t.app, 'root_admin');
      alice = await register(t.app, { username: 'alice' });
      const pair = await tokenFor(t.app, 'root_admin');
      adminToken = pair.access_token;
      secrets.add(pair.access_token).add(pair.refresh_token);
    });
    afterAll(() => t?.close());

    /** A request as a client sends it: its own X-Request-ID, a user agent, a client address. */
    function send(app: GatehouseApp, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, requestId: string, extra: { payload?: unknown; form?: Record<string, string>; token?: string; ip?: string } = {}): Promise<LightMyRequestResponse> {
      const body = extra.form ? form(extra.form) : undefined;
      return app.inject({
        method, url, remoteAddress: extra.ip ?? '192.0.2.50',
        headers: { 'x-request-id': requestId, 'user-agent': UA, ...(body?.headers ?? {}), ...(extra.token ? bearer(extra.token) : {}) },
        payload: body ? body.payload : (extra.payload as Record<string, unknown> | undefined),
      });
    }

    async function audit(query = ''): Promise<{ rows: AuditRow[]; total: number; res: LightMyRequestResponse }> {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit${query}`, headers: bearer(adminToken) });
      expect(res.statusCode, res.body).toBe(200);
      return { rows: res.json<AuditRow[]>(), total: Number(res.headers['x-total-count']), res };
    }

    /** The newest event of `action` for `userId`, which must have been caused by request `requestId`. */
    async function expectEvent(action: string, userId: number | null, requestId: string, outcome: string, ip = '192.0.2.50'): Promise<AuditRow> {
      const { rows } = await audit(`?action=${encodeURIComponent(action)}${userId === null ? '' : `&user_id=${userId}`}`);
      const row = rows.find((r) => r.request_id === requestId);
      expect(row, `${action} caused by ${requestId}`).toBeDefined();
      expect(Object.keys(row!).sort()).toEqual(FIELDS);
      expect(row).toEqual({ id: expect.any(Number), time: expect.any(String), action, user_id: userId, ip, user_agent: UA, request_id: requestId, outcome });
      const time = Date.parse(row!.time);
      expect(row!.time).toBe(new Date(time).toISOString());
      expect(time).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(time).toBeLessThanOrEqual(Date.now() + 1000);
      // Written to the log too, with the same fields.
      const line = t.logs.find((l) => l.msg === `audit ${action}` && (l.audit as Record<string, unknown> | undefined)?.request_id === requestId);
      expect(line?.audit, `the log line of ${action}`).toMatchObject({ id: row!.id, time: row!.time, action, user_id: userId, ip, user_agent: UA, request_id: requestId, outcome });
      return row!;
    }

    it('is admin-only: 401 without a token, 403 "Insufficient permissions" for a user', async () => {
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit' })).statusCode).toBe(401);
      const user = await tokenFor(t.app, 'alice');
      secrets.add(user.access_token).add(user.refresh_token);
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit', headers: bearer(user.access_token) });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ detail: 'Insufficient permissions' });
    });

    it('login.success and login.failure, with the X-Request-ID, IP and user agent of the request', async () => {
      const ok = rid('login-ok');
      const res = await send(t.app, 'POST', '/api/v1/auth/token', ok, { form: { grant_type: 'password', username: 'alice', password: PASSWORD } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-request-id']).toBe(ok);
      const pair = res.json<TokenPair>();
      secrets.add(pair.access_token).add(pair.refresh_token);
      await expectEvent('login.success', alice.id, ok, 'success');

      const bad = rid('login-bad');
      const wrong = `wrong-${randomBytes(8).toString('hex')}`;
      secrets.add(wrong);
      expect((await send(t.app, 'POST', '/api/v1/auth/token', bad, { ip: '192.0.2.51', form: { grant_type: 'password', username: 'alice', password: wrong } })).statusCode).toBe(401);
      await expectEvent('login.failure', alice.id, bad, 'failure', '192.0.2.51');
      // An unknown username fails the same way, audited without a user id.
      const ghost = rid('login-ghost');
      expect((await send(t.app, 'POST', '/api/v1/auth/token', ghost, { form: { grant_type: 'password', username: 'nobody_here', password: wrong } })).statusCode).toBe(401);
      await expectEvent('login.failure', null, ghost, 'failure');
    });

    it('logout and token.refresh_reuse', async () => {
      const pair = await tokenFor(t.app, 'alice');
      secrets.add(pair.access_token).add(pair.refresh_token);
      const out = rid('logout');
      expect((await send(t.app, 'POST', '/api/v1/auth/logout', out, { token: pair.access_token })).statusCode).toBe(204);
      await expectEvent('logout', alice.id, out, 'success');

      const second = await tokenFor(t.app, 'alice');
      secrets.add(second.access_token).add(second.refresh_token);
      const rotated = await send(t.app, 'POST', '/api/v1/auth/refresh', rid('rotate'), { payload: { refresh_token: second.refresh_token } });
      expect(rotated.statusCode).toBe(200);
      secrets.add(rotated.json<TokenPair>().access_token).add(rotated.json<TokenPair>().refresh_token);
      const reuse = rid('reuse');
      // Replayed from elsewhere (the same client moments later would be a concurrent refresh).
      expect((await send(t.app, 'POST', '/api/v1/auth/refresh', reuse, { payload: { refresh_token: second.refresh_token }, ip: '198.51.100.77' })).statusCode).toBe(401);
      await expectEvent('token.refresh_reuse', alice.id, reuse, 'blocked', '198.51.100.77');
    });

    it('password.change', async () => {
      const bob = await register(t.app, { username: 'bob' });
      const pair = await tokenFor(t.app, 'bob');
      secrets.add(pair.access_token).add(pair.refresh_token);
      const next = `new passphrase ${randomBytes(6).toString('hex')}`;
      secrets.add(next);
      const change = rid('pwchange');
      const res = await send(t.app, 'POST', '/api/v1/auth/password', change, { token: pair.access_token, payload: { current_password: PASSWORD, new_password: next } });
      expect(res.statusCode, res.body).toBe(204);
      await expectEvent('password.change', bob.id, change, 'success');
    });

    it('user.role_change and user.deactivate, caused by the admin\'s requests', async () => {
      const carol = await register(t.app, { username: 'carol' });
      const promote = rid('promote');
      expect((await send(t.app, 'PATCH', `/api/v1/admin/users/${carol.id}`, promote, { token: adminToken, payload: { role: 'admin' } })).statusCode).toBe(200);
      await expectEvent('user.role_change', carol.id, promote, 'success');
      const deactivate = rid('deactivate');
      expect((await send(t.app, 'PATCH', `/api/v1/admin/users/${carol.id}`, deactivate, { token: adminToken, payload: { is_active: false } })).statusCode).toBe(200);
      await expectEvent('user.deactivate', carol.id, deactivate, 'success');
    });

    it('lockout, caused by the failure that reached the threshold', async () => {
      const dave = await register(t.app, { username: 'dave' });
      let last = '';
      for (let i = 0; i < 3; i++) {
        last = rid(`fail${i}`);
        expect((await send(t.app, 'POST', '/api/v1/auth/token', last, { form: { grant_type: 'password', username: 'dave', password: `nope-${i}` } })).statusCode).toBe(401);
      }
      await expectEvent('lockout', dave.id, last, 'blocked');
      expect((await send(t.app, 'POST', '/api/v1/auth/token', rid('locked'), { form: { grant_type: 'password', username: 'dave', password: PASSWORD } })).statusCode).toBe(429);
    });

    it('apikey.create, apikey.revoke, mfa.enable, mfa.disable and password.reset', async () => {
      const erin = await register(t.app, { username: 'erin' });
      const pair = await tokenFor(t.app, 'erin');
      secrets.add(pair.access_token).add(pair.refresh_token);

      const create = rid('keycreate');
      const created = await send(t.app, 'POST', '/api/v1/api-keys', create, { token: pair.access_token, payload: { name: 'ci', scopes: ['profile:read'] } });
      expect(created.statusCode, created.body).toBe(201);
      const { id: keyId, key } = created.json<{ id: string; key: string }>();
      secrets.add(key);
      await expectEvent('apikey.create', erin.id, create, 'success');
      const revoke = rid('keyrevoke');
      expect((await send(t.app, 'DELETE', `/api/v1/api-keys/${keyId}`, revoke, { token: pair.access_token })).statusCode).toBe(204);
      await expectEvent('apikey.revoke', erin.id, revoke, 'success');

      const setup = await send(t.app, 'POST', '/api/v1/auth/mfa/totp/setup', rid('mfasetup'), { token: pair.access_token });
      expect(setup.statusCode, setup.body).toBe(200);
      const { secret } = setup.json<{ secret: string }>();
      secrets.add(secret);
      const enable = rid('mfaenable');
      const enabled = await send(t.app, 'POST', '/api/v1/auth/mfa/totp/enable', enable, { token: pair.access_token, payload: { code: totpCode(secret, Date.now()) } });
      expect(enabled.statusCode, enabled.body).toBe(200);
      const { recovery_codes } = enabled.json<{ recovery_codes: string[] }>();
      for (const code of recovery_codes) secrets.add(code);
      await expectEvent('mfa.enable', erin.id, enable, 'success');
      const disable = rid('mfadisable');
      const disabled = await send(t.app, 'POST', '/api/v1/auth/mfa/totp/disable', disable, { token: pair.access_token, payload: { password: PASSWORD, code: recovery_codes[0]! } });
      expect(disabled.statusCode, disabled.body).toBe(204);
      await expectEvent('mfa.disable', erin.id, disable, 'success');

      expect((await send(t.app, 'POST', '/api/v1/auth/password-reset/request', rid('resetreq'), { payload: { email: 'erin@example.com' } })).statusCode).toBe(202);
      await t.app.gatehouse.passwordReset.settled();
      const outbox = join(t.config.dataDir, 'outbox');
      const mail = readdirSync(outbox).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(outbox, f), 'utf8')).find((m) => /^To: erin@example\.com\r?$/m.test(m));
      const token = resetLinkToken(mail ?? '', t.config.publicUrl);
      expect(token).toBeDefined();
      secrets.add(token!);
      const next = `reset passphrase ${randomBytes(6).toString('hex')}`;
      secrets.add(next);
      const confirm = rid('resetconfirm');
      expect((await send(t.app, 'POST', '/api/v1/auth/password-reset/confirm', confirm, { payload: { token, new_password: next } })).statusCode).toBe(204);
      await expectEvent('password.reset', erin.id, confirm, 'success');
    });

    it('lists newest first with exactly the contract\'s fields; X-Total-Count counts every event', async () => {
      const { rows, total, res } = await audit('?limit=200');
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(rows.length).toBeGreaterThan(10);
      expect(total).toBe(rows.length);
      for (const row of rows) expect(Object.keys(row).sort()).toEqual(FIELDS);
      const ids = rows.map((r) => r.id);
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
      expect(new Set(ids).size).toBe(ids.length);
      const times = rows.map((r) => Date.parse(r.time));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      const actions = new Set(rows.map((r) => r.action));
      for (const a of AUDIT_ACTIONS) expect(actions, a).toContain(a);
    });

    it('filters by user_id and action (alone and together), pages with limit/offset', async () => {
      const all = await audit('?limit=200');
      const byUser = await audit(`?user_id=${alice.id}&limit=200`);
      expect(byUser.rows.length).toBeGreaterThan(2);
      expect(byUser.rows.every((r) => r.user_id === alice.id)).toBe(true);
      expect(byUser.total).toBe(all.rows.filter((r) => r.user_id === alice.id).length);
      const byAction = await audit('?action=login.failure&limit=200');
      expect(byAction.rows.every((r) => r.action === 'login.failure')).toBe(true);
      expect(byAction.total).toBe(all.rows.filter((r) => r.action === 'login.failure').length);
      const both = await audit(`?action=login.failure&user_id=${alice.id}`);
      expect(both.rows.length).toBeGreaterThan(0);
      expect(both.rows.every((r) => r.action === 'login.failure' && r.user_id === alice.id)).toBe(true);
      expect((await audit('?user_id=999999')).rows).toEqual([]);
      expect((await audit('?user_id=999999')).total).toBe(0);

      const pages: AuditRow[] = [];
      for (let offset = 0; offset < all.rows.length; offset += 4) {
        const page = await audit(`?limit=4&offset=${offset}`);
        expect(page.total).toBe(all.total);
        expect(page.rows.length).toBe(Math.min(4, all.rows.length - offset));
        pages.push(...page.rows);
      }
      expect(pages).toEqual(all.rows);
      expect((await audit(`?offset=${all.rows.length}`)).rows).toEqual([]);
    });

    it('refuses bad filters with 422: unknown action, limit 0 or over 200, negative offset', async () => {
      for (const q of ['?action=password.stolen', '?limit=0', '?limit=201', '?offset=-1', '?user_id=abc']) {
        const res = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit${q}`, headers: bearer(adminToken) });
        expect(res.statusCode, q).toBe(422);
      }
    });

    it('no password, token or key in any stored row, audit response or log line', async () => {
      expect(secrets.size).toBeGreaterThan(10);
      const stored = JSON.stringify(await sql`select * from audit_events`.execute(t.storage.handle.db));
      const listed = (await audit('?limit=200')).res.body;
      const logged = t.logs.map((l) => JSON.stringify(l)).join('\n');
      expect(logged).toContain('audit login.success');
      for (const secret of secrets) {
        expect(stored, 'a stored audit row holds a secret').not.toContain(secret);
        expect(listed, 'the audit response holds a secret').not.toContain(secret);
        expect(logged, 'a log line holds a secret').not.toContain(secret);
      }
    });
  });
}

const pgUrl = process.env.TEST_DATABASE_URL;

describe.skipIf(!pgUrl)('audited actions when the audit cannot be written (postgres)', () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  let proxy: TcpProxy;
  let t: TestApp;


  beforeAll(async () => {
    const target = new URL(pgUrl!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await withAdmin((c) => c.query(`create schema ${schema}`));
    const proxied = proxy.rewrite(pgUrl!);
    const storage: TestStorage = Object.assign(await openStorage(proxied, { schema }), { url: proxied, schema });
    t = await authApp({ storage });
    await register(t.app, { username: 'alice' });
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await withAdmin((c) => c.query(`drop schema if exists ${schema} cascade`));
  });

  const loginAs = (requestId: string) => {
    const body = form({ grant_type: 'password', username: 'alice', password: PASSWORD });
    return t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: body.payload, headers: { ...body.headers, 'x-request-id': requestId } });
  };

  it('only the audit write fails (its connection dies mid-insert): the login answers 503 and issues nothing', async () => {
    // A trigger that kills the connection inserting any audit row: the database going away exactly
    // at the audit write, while every other statement of the login succeeds.
    await withAdmin(async (c) => {
      await c.query(`create function ${schema}.audit_dies() returns trigger language plpgsql as $$ begin perform pg_terminate_backend(pg_backend_pid()); return new; end $$`);
      await c.query(`create trigger audit_dies before insert on ${schema}.audit_events for each row execute function ${schema}.audit_dies()`);
    });
    const sessionsBefore = await withAdmin((c) => c.query(`select count(*)::int as n from ${schema}.sessions`));
    try {
      const started = performance.now();
      const res = await loginAs(rid('unaudited'));
      expect(performance.now() - started).toBeLessThan(5000);
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toEqual({ detail: 'Service temporarily unavailable' });
      expect(res.body).not.toMatch(/access_token|refresh_token/);
      expect(res.headers['set-cookie']).toBeUndefined();
    } finally {
      await withAdmin((c) => c.query(`drop trigger audit_dies on ${schema}.audit_events`));
    }
    const sessionsAfter = await withAdmin((c) => c.query(`select count(*)::int as n from ${schema}.sessions`));
    expect(sessionsAfter.rows[0].n).toBe(sessionsBefore.rows[0].n);
    // With the audit writable again, the same login succeeds and is audited.
    const ok = rid('audited');
    expect((await loginAs(ok)).statusCode).toBe(200);
    const { events } = await t.app.gatehouse.audit.list({ limit: 5, offset: 0, action: 'login.success' });
    expect(events.map((e) => e.requestId)).toEqual([ok]);
  });

  it('the database away: the login answers 503 within 5 s, not a token; after restore it is audited again', async () => {
    await proxy.cut('refuse');
    try {
      const started = performance.now();
      const res = await loginAs(rid('db-down'));
      expect(performance.now() - started).toBeLessThan(5000);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ detail: 'Service temporarily unavailable' });
    } finally {
      await proxy.restore();
    }
    const back = rid('db-back');
    let status = 0;
    for (const deadline = performance.now() + 15_000; performance.now() < deadline && status !== 200;) {
      status = (await loginAs(back)).statusCode;
      if (status !== 200) await pause(25);
    }
    expect(status).toBe(200);
    const { events } = await t.app.gatehouse.audit.list({ limit: 10, offset: 0, action: 'login.success' });
    expect(events.some((e) => e.requestId?.startsWith('db-down'))).toBe(false);
    expect(events[0]!.requestId).toBe(back);
  });
});
