// Revocations shared through Redis (src/limits/redis-revocations.ts): two apps on one PostgreSQL
// schema and one Redis prefix stand for two instances behind one address. A logout, a deactivation
// or a role change on A is enforced on B at once; with B's Redis cut (a TCP proxy: refused or
// black-holed), B still refuses what A revoked meanwhile (it asks the database); after the restore
// B's mirror resyncs (proved with B's database cut: only the mirror can answer then); an instance
// started later refuses tokens revoked before it started. With A's own Redis gone, a revocation
// there is refused whole (503, nothing changed); lost mid-change, it is written whole (audit
// included) and announced once A is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatehouseApp } from '../../src/app.js';
import { openStorage } from '../../src/storage/index.js';
import { testApp, type TestApp } from '../helpers/app.js';
import {
  PASSWORD, UNLIMITED_ENV, bearer, decodeJwt, expectDeadRefresh, expectInvalidToken, me, refresh, register, registerAdmin, tokenFor, type TokenPair,
} from '../helpers/auth.js';
import { openPostgres, type TestStorage } from '../helpers/databases.js';
import { dropPrefix, proxiedRedis, redisAvailable, redisConnection, redisUrl, ttlsUnder, uniquePrefix, until } from '../helpers/redis.js';
import { startTcpProxy, type CutMode, type TcpProxy } from '../helpers/tcp-proxy.js';

const pgUrl = process.env.TEST_DATABASE_URL;

/** A token's claims as the revocation check sees them. */
function claims(pair: TokenPair): { sid: string; userId: number; ver: number } {
  const p = decodeJwt(pair.access_token).payload;
  return { sid: String(p.sid), userId: Number(p.sub), ver: Number(p.ver) };
}

/**
 * What B's revocation store answers without waiting: 'revoked' or 'live' straight from its mirror, or
 * 'asks-database' while it does not trust the mirror (the answer is then a promise).
 */
function mirrorSays(app: GatehouseApp, c: { sid: string; userId: number; ver: number }): 'revoked' | 'live' | 'asks-database' {
  const answer = app.gatehouse.revocations.standing(c.sid, c.userId, c.ver);
  if (answer instanceof Promise) {
    void answer.catch(() => undefined);
    return 'asks-database';
  }
  return answer.kind === 'revoked' ? 'revoked' : 'live';
}

/** Waits for /readyz to answer `status`: 503 within the contract's 2 s of a loss, 200 within 10 s of Redis returning. */
function readiness(app: GatehouseApp, status: 200 | 503, what: string) {
  return until(() => app.inject({ method: 'GET', url: '/readyz' }), (r) => r.statusCode === status, status === 503 ? 2000 : 10_000, what);
}

async function logout(app: GatehouseApp, pair: TokenPair): Promise<void> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(pair.access_token) });
  expect(res.statusCode, res.body).toBe(204);
}

describe.skipIf(!pgUrl || !redisAvailable)('revocations shared through Redis by two instances', () => {
  const prefix = uniquePrefix('rev');
  let storageA: TestStorage;
  let a: TestApp;
  let b: TestApp;
  let aRedis: TcpProxy;
  let bRedis: TcpProxy;
  let bDatabase: TcpProxy;
  let adminToken: string;
  let userNo = 0;

  const env = (redis: string) => ({ ...UNLIMITED_ENV, REDIS_URL: redis, REDIS_KEY_PREFIX: prefix });

  /** A fresh user signed in on A, whose token B accepts. */
  async function signedIn(): Promise<{ id: number; username: string; pair: TokenPair }> {
    const username = `member${++userNo}`;
    const { id } = await register(a.app, { username });
    const pair = await tokenFor(a.app, username);
    expect((await me(b.app, pair.access_token)).statusCode).toBe(200);
    return { id, username, pair };
  }

  beforeAll(async () => {
    storageA = await openPostgres();
    // A reaches Redis, and B Redis and PostgreSQL, through proxies the tests can cut.
    const forA = await proxiedRedis();
    aRedis = forA.proxy;
    a = await testApp({ storage: storageA, env: env(forA.url) });
    const proxied = await proxiedRedis();
    bRedis = proxied.proxy;
    const pg = new URL(pgUrl!);
    bDatabase = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    const bUrl = bDatabase.rewrite(pgUrl!);
    const storageB: TestStorage = Object.assign(await openStorage(bUrl, { schema: storageA.schema }), { url: bUrl, schema: storageA.schema });
    b = await testApp({ storage: storageB, env: env(proxied.url) });
    await registerAdmin(a.app, 'root_admin');
    adminToken = (await tokenFor(a.app, 'root_admin')).access_token;
  });
  afterAll(async () => {
    await b?.close();
    await bRedis?.close();
    await bDatabase?.close();
    await a?.close();
    await aRedis?.close();
    const redis = redisConnection();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('a logout on A is refused on B at once (the very next request)', async () => {
    for (let i = 0; i < 5; i++) {
      const { pair } = await signedIn();
      await logout(a.app, pair);
      expectInvalidToken(await me(b.app, pair.access_token));
    }
  });

  it('a deactivation on A is enforced on B at once', async () => {
    const { id, username, pair } = await signedIn();
    const res = await a.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: bearer(adminToken), payload: { is_active: false } });
    expect(res.statusCode, res.body).toBe(200);
    expectInvalidToken(await me(b.app, pair.access_token));
    // …and the account cannot sign in again on B either.
    const again = await b.app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=password&username=${username}&password=${encodeURIComponent(PASSWORD)}` });
    expect([401, 403]).toContain(again.statusCode);
  });

  it('a role change on A is enforced on B at once, on tokens issued before it: promoted reaches admin routes, demoted no longer does', async () => {
    const deputy = await signedIn();
    const adminList = (token: string) => b.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(token) });
    expect((await adminList(deputy.pair.access_token)).statusCode).toBe(403);
    const promote = await a.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${deputy.id}`, headers: bearer(adminToken), payload: { role: 'admin' } });
    expect(promote.statusCode).toBe(200);
    // The token from before the promotion holds the new role on B at once.
    expect((await adminList(deputy.pair.access_token)).statusCode).toBe(200);
    const adminPair = await tokenFor(a.app, deputy.username);
    const demote = await a.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${deputy.id}`, headers: bearer(adminToken), payload: { role: 'user' } });
    expect(demote.statusCode).toBe(200);
    for (const token of [adminPair.access_token, deputy.pair.access_token]) {
      const denied = await adminList(token);
      expect(denied.statusCode).toBe(403);
      expect(denied.json()).toEqual({ detail: 'Insufficient permissions' });
      expect((await me(b.app, token)).json()).toMatchObject({ id: deputy.id, role: 'user' });
    }
  });

  for (const mode of ['refuse', 'blackhole'] as const satisfies readonly CutMode[]) {
    it(`B's Redis ${mode === 'refuse' ? 'refused' : 'black-holed'}: B still refuses a token A revoked meanwhile (database fallback), and resyncs after the restore`, async () => {
      const kept = await signedIn();
      const revoked = await signedIn();
      const later = await signedIn();
      const reroled = await signedIn();
      const adminList = (token: string) => b.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(token) });
      await bRedis.cut(mode);
      try {
        await logout(a.app, revoked.pair);
        // B cannot hear A now; it must not trust its mirror. Bounded by the contract's 2 s to notice.
        const refused = await until(() => me(b.app, revoked.pair.access_token), (r) => r.statusCode === 401, 2000, 'B refuses the revoked token');
        expectInvalidToken(refused.value);
        expect((await me(b.app, kept.pair.access_token)).statusCode).toBe(200);
        // A promotion B cannot hear of: the database tells B, and the old token holds the new role there.
        const promote = await a.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${reroled.id}`, headers: bearer(adminToken), payload: { role: 'admin' } });
        expect(promote.statusCode).toBe(200);
        expect((await adminList(reroled.pair.access_token)).statusCode).toBe(200);
        // Revoked while B is cut off, checked by B only after the restore.
        await logout(a.app, later.pair);
      } finally {
        await bRedis.restore();
      }
      // B's mirror catches up from Redis and the database: it answers without asking the database.
      for (const who of [revoked, later]) {
        await until(async () => mirrorSays(b.app, claims(who.pair)), (v) => v === 'revoked', 10_000, 'B\'s mirror resynced');
      }
      // Trusted again (answered without the database), the mirror knows of the promotion too.
      await until(async () => mirrorSays(b.app, claims(reroled.pair)), (v) => v === 'live', 10_000, 'B trusts its mirror again');
      expect(b.app.gatehouse.revocations.standing(claims(reroled.pair).sid, reroled.id, claims(reroled.pair).ver)).toEqual({ kind: 're-roled', role: 'admin' });
      await bDatabase.cut('refuse');
      try {
        // With B's database gone too, only the resynced mirror can say no (a token it believed live would reach the handler: 503).
        expectInvalidToken(await me(b.app, revoked.pair.access_token));
        expectInvalidToken(await me(b.app, later.pair.access_token));
      } finally {
        await bDatabase.restore();
      }
      await until(() => me(b.app, kept.pair.access_token), (r) => r.statusCode === 200, 15_000, 'B serves the live token again');
    });
  }

  it('a later revocation reaches B through Redis again after the outage (the subscription is back)', async () => {
    const { pair } = await signedIn();
    await until(async () => mirrorSays(b.app, claims(pair)), (v) => v === 'live', 10_000, 'B trusts its mirror again');
    await logout(a.app, pair);
    // Pushed to B's mirror: answered there, without asking the database.
    await until(async () => mirrorSays(b.app, claims(pair)), (v) => v === 'revoked', 1000, 'the broadcast reached B');
    expectInvalidToken(await me(b.app, pair.access_token));
  });

  const auditOf = async (userId: number, action: string) => (await storageA.audit.list({ limit: 10, offset: 0, userId, action })).events;
  const deactivate = (id: number) => a.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: bearer(adminToken), payload: { is_active: false } });
  const withKey = async (who: { pair: TokenPair }) => {
    const res = await a.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: bearer(who.pair.access_token), payload: { name: 'k', scopes: ['profile:read'] } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<{ key: string }>().key;
  };
  const keyWorks = async (app: GatehouseApp, key: string) => (await app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-api-key': key } })).statusCode;

  it('A\'s own Redis refused: a logout or deactivation there is refused whole (503, nothing changed or audited), and goes through once A is back', async () => {
    const leaver = await signedIn();
    const target = await signedIn();
    const key = await withKey(target);
    await aRedis.cut('refuse');
    try {
      await readiness(a.app, 503, 'A notices its Redis is gone');
      // B's link is fine: had A ended these, B's trusted mirror would never hear of it.
      for (const res of [
        await a.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(leaver.pair.access_token) }),
        await a.app.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: bearer(leaver.pair.access_token) }),
        await a.app.inject({
          method: 'POST', url: '/api/v1/auth/password', headers: bearer(leaver.pair.access_token),
          payload: { current_password: PASSWORD, new_password: 'a different passphrase 42' },
        }),
        await deactivate(target.id),
      ]) {
        expect(res.statusCode, res.body).toBe(503);
        expect(res.json()).toEqual({ detail: 'Service temporarily unavailable' });
      }
    } finally {
      await aRedis.restore();
    }
    // Nothing happened: the client was told so, and no instance has to learn otherwise.
    expect((await me(b.app, leaver.pair.access_token)).statusCode).toBe(200);
    expect((await storageA.users.findById(target.id))?.isActive).toBe(true);
    expect(await keyWorks(b.app, key)).toBe(200);
    expect((await refresh(b.app, target.pair.refresh_token)).statusCode).toBe(200);
    expect(await auditOf(leaver.id, 'logout')).toEqual([]);
    expect(await auditOf(leaver.id, 'password.change')).toEqual([]);
    expect(await auditOf(target.id, 'user.deactivate')).toEqual([]);
    expect((await tokenFor(b.app, leaver.username)).access_token).toBeTruthy();
    // Once A is back the same requests work, whole, and B refuses at once.
    await readiness(a.app, 200, 'A is back');
    await logout(a.app, leaver.pair);
    expectInvalidToken(await me(b.app, leaver.pair.access_token));
    expect((await deactivate(target.id)).statusCode).toBe(200);
    expect(await keyWorks(b.app, key)).toBe(401);
    expect(await auditOf(target.id, 'user.deactivate')).toHaveLength(1);
  });

  it('A\'s Redis black-holed mid-change: the logout and deactivation are written whole and audited though they answer 503; A refuses at once, B as soon as A is back', async () => {
    const leaver = await signedIn();
    const target = await signedIn();
    const key = await withKey(target);
    // Cut just now, so A still believes its link is up (until its heartbeat goes unanswered): the
    // changes are written, and only sharing them fails.
    await aRedis.cut('blackhole');
    try {
      const [out, off] = await Promise.all([
        a.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(leaver.pair.access_token) }),
        deactivate(target.id),
      ]);
      for (const res of [out, off]) {
        expect(res.statusCode).toBe(503);
        expect(res.json()).toEqual({ detail: 'Service temporarily unavailable' });
      }
      expectInvalidToken(await me(a.app, leaver.pair.access_token));
      expectInvalidToken(await me(a.app, target.pair.access_token));
    } finally {
      await aRedis.restore();
    }
    // Nothing half done: the account is off, its sessions and keys ended, and every event is in the audit log.
    expect((await storageA.users.findById(target.id))?.isActive).toBe(false);
    expect(await keyWorks(b.app, key)).toBe(401);
    expectDeadRefresh(await refresh(b.app, target.pair.refresh_token));
    expect(await auditOf(leaver.id, 'logout')).toHaveLength(1);
    expect(await auditOf(target.id, 'user.deactivate')).toHaveLength(1);
    expect(await auditOf(target.id, 'apikey.revoke')).toHaveLength(1);
    // A announces what it could not while cut off, so B (whose subscription never broke) learns it.
    await until(() => me(b.app, leaver.pair.access_token), (r) => r.statusCode === 401, 10_000, 'B refuses the logged-out token once A is back');
    await until(() => me(b.app, target.pair.access_token), (r) => r.statusCode === 401, 10_000, 'B refuses the deactivated user\'s token once A is back');
    // Reactivation does not bring back what the deactivation ended.
    await readiness(a.app, 200, 'A is back');
    expect((await a.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${target.id}`, headers: bearer(adminToken), payload: { is_active: true } })).statusCode).toBe(200);
    expect(await keyWorks(b.app, key)).toBe(401);
    expectDeadRefresh(await refresh(b.app, target.pair.refresh_token));
  });

  it('a change B wrote but could not announce (its Redis lost mid-change, and never back) reaches A from the database within seconds', async () => {
    const deputy = await registerAdmin(a.app, `deputy${++userNo}`);
    const deputyToken = (await tokenFor(a.app, deputy.username)).access_token;
    const leaver = await signedIn();
    const adminList = (app: GatehouseApp) => app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(deputyToken) });
    expect((await adminList(a.app)).statusCode).toBe(200);
    await bRedis.cut('blackhole');
    try {
      // Cut just now: B still believes its link is up, writes both changes, and cannot announce them.
      const [demote, out] = await Promise.all([
        b.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${deputy.id}`, headers: bearer(adminToken), payload: { role: 'user' } }),
        b.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(leaver.pair.access_token) }),
      ]);
      expect(demote.statusCode).toBe(503);
      expect(out.statusCode).toBe(503);
      expect((await storageA.users.findById(deputy.id))?.role).toBe('user');
      // A's own link is fine, so it trusts its mirror; the database tells it what B could not.
      const denied = await until(() => adminList(a.app), (r) => r.statusCode === 403, 6000, 'A hears of the demotion from the database');
      expect(denied.value.json()).toEqual({ detail: 'Insufficient permissions' });
      await until(() => me(a.app, leaver.pair.access_token), (r) => r.statusCode === 401, 6000, 'A hears of the logout from the database');
    } finally {
      await bRedis.restore();
    }
    await readiness(b.app, 200, 'B is back');
  });

  it('a rotated refresh token replayed on B while B\'s Redis is black-holed: 401 (not 503), the session ended, and A refuses it from the database', async () => {
    const victim = await signedIn();
    const rotated = await refresh(a.app, victim.pair.refresh_token);
    expect(rotated.statusCode).toBe(200);
    const fresh = rotated.json<TokenPair>();
    await bRedis.cut('blackhole');
    try {
      const replay = await refresh(b.app, victim.pair.refresh_token);
      expectDeadRefresh(replay);
      // The whole session ended, in the database, whatever Redis could not carry.
      expectDeadRefresh(await refresh(a.app, fresh.refresh_token));
      await until(() => me(a.app, fresh.access_token), (r) => r.statusCode === 401, 6000, 'A refuses the session\'s access token');
    } finally {
      await bRedis.restore();
    }
    await readiness(b.app, 200, 'B is back');
    expectInvalidToken(await me(b.app, fresh.access_token));
  });

  it('every revocation key in Redis expires within one access-token lifetime', async () => {
    const redis = redisConnection();
    try {
      const ttls = await ttlsUnder(redis, `${prefix}rev:`);
      expect(Object.keys(ttls).some((k) => k.startsWith(`${prefix}rev:s:`))).toBe(true);
      expect(Object.keys(ttls).some((k) => k.startsWith(`${prefix}rev:v:`))).toBe(true);
      for (const [key, ttl] of Object.entries(ttls)) {
        expect(ttl, key).toBeGreaterThan(0);
        expect(ttl, key).toBeLessThanOrEqual(15 * 60_000);
      }
    } finally {
      redis.disconnect();
    }
  });

  it('an instance started later refuses tokens revoked before it started, and holds re-roled ones to the new role', async () => {
    const revoked = await signedIn();
    const promoted = await signedIn();
    await logout(a.app, revoked.pair);
    await a.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${promoted.id}`, headers: bearer(adminToken), payload: { role: 'admin' } });
    // A value an older release wrote (a bare version, no role): read as "refuse tokens older than it".
    const legacy = await signedIn();
    const redis = redisConnection();
    try {
      await redis.set(`${prefix}rev:v:${legacy.id}`, '5', 'PX', 60_000);
    } finally {
      redis.disconnect();
    }
    const storageC: TestStorage = Object.assign(await openStorage(pgUrl!, { schema: storageA.schema }), { url: storageA.url, schema: storageA.schema });
    const c = await testApp({ storage: storageC, env: env(redisUrl!) });
    try {
      expectInvalidToken(await me(c.app, revoked.pair.access_token));
      // Once C's mirror is loaded from Redis (the database alone knows nothing of that value).
      const refused = await until(() => me(c.app, legacy.pair.access_token), (r) => r.statusCode === 401, 5000, 'C reads the legacy value');
      expectInvalidToken(refused.value);
      expect((await c.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(promoted.pair.access_token) })).statusCode).toBe(200);
      const live = await tokenFor(a.app, promoted.username);
      expect((await me(c.app, live.access_token)).statusCode).toBe(200);
    } finally {
      await c.close();
    }
  });
});
