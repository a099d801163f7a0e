// The database going away under a running app (PostgreSQL through a TCP proxy we cut): /readyz and
// every request that needs the database answer a bare 503 fast, and the same process recovers.
// Also: isDatabaseUnavailable on the errors those outages really raise, and on ones it must not claim.
import { randomBytes } from 'node:crypto';
import { copyFileSync, renameSync } from 'node:fs';
import { setTimeout as pause } from 'node:timers/promises';
import { sql } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/database.js';
import { classifyDatabaseError, createStorage, isDatabaseUnavailable, openStorage, type Storage } from '../../src/storage/index.js';
import { testApp, type TestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/config.js';
import { databaseTargets, type TestStorage, withAdmin } from '../helpers/databases.js';
import { until } from '../helpers/poll.js';
import { startTcpProxy, type CutMode, type TcpProxy } from '../helpers/tcp-proxy.js';

const pgUrl = process.env.TEST_DATABASE_URL;
// Contract, Operations: 503 within 2 s of the outage, each answer in under 5 s, normal again within 15 s.
const NOTICE_MS = 2000;
const ANSWER_MS = 5000;
const RECOVER_MS = 15_000;
const LEAKS = /stack|node_modules|\.ts\b|\.js\b|\bat \S+ \(|pg\b|postgres|kysely|sqlite|ECONN|timeout|terminated|connection|select/i;

async function caught(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(() => expect.unreachable('expected the database call to fail'), (err: unknown) => err);
}


describe.skipIf(!pgUrl)('database outage on postgres, through a TCP proxy', () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  let proxy: TcpProxy;
  let storage: Storage;
  let t: TestApp;

  beforeAll(async () => {
    const target = new URL(pgUrl!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await withAdmin((c) => c.query(`create schema ${schema}`));
    const proxied = proxy.rewrite(pgUrl!);
    storage = await openStorage(proxied, { schema });
    const testStorage: TestStorage = Object.assign(storage, { url: proxied, schema });
    t = await testApp({
      storage: testStorage,
      // A route that needs the database, standing for every such route.
      routes: (app) => {
        app.get('/test/admins', async () => ({ admins: await storage.users.countActiveAdmins() }));
      },
    });
  });
  afterAll(async () => {
    try {
      await t?.close();
      await proxy?.close();
    } finally {
      await withAdmin((c) => c.query(`drop schema if exists ${schema} cascade`));
    }
  });

  async function timed(url: string) {
    const started = performance.now();
    const res = await t.app.inject({ method: 'GET', url });
    return { res, ms: performance.now() - started };
  }

  /** Polls `url` until it answers `status`; returns when that first happened (ms from `since`) and the answer. */
  async function until(url: string, status: number, since: number, deadlineMs: number) {
    const durations: number[] = [];
    for (;;) {
      const { res, ms } = await timed(url);
      durations.push(ms);
      if (res.statusCode === status) return { res, at: performance.now() - since, slowest: Math.max(...durations) };
      if (performance.now() - since > deadlineMs) {
        throw new Error(`${url} still answered ${res.statusCode} ${deadlineMs} ms after the change (wanted ${status})`);
      }
      await pause(50);
    }
  }

  async function expectServing() {
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok' });
    const route = await t.app.inject({ method: 'GET', url: '/test/admins' });
    expect(route.statusCode).toBe(200);
    expect(route.json()).toEqual({ admins: 0 });
  }

  async function expectOutageNoticed(mode: CutMode) {
    const cutAt = performance.now();
    await proxy.cut(mode);
    const ready = await until('/readyz', 503, cutAt, NOTICE_MS);
    expect(ready.at).toBeLessThan(NOTICE_MS);
    expect(ready.slowest).toBeLessThan(ANSWER_MS);
    expect(ready.res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(ready.res.json()).toMatchObject({ detail: 'Service temporarily unavailable' });
    expect(Object.keys(ready.res.json()).every((k) => k === 'detail' || k === 'failing')).toBe(true);
    expect(ready.res.body).not.toMatch(LEAKS);

    // At the same time: a request that needs the database; what a repository call raises on a pooled
    // connection; and what a new pool raises when it tries to connect.
    const started = performance.now();
    const fresh = openDatabase(proxy.rewrite(pgUrl!), { schema });
    const [{ res, ms }, pooled, connecting] = await Promise.all([
      timed('/test/admins'),
      caught(() => storage.users.findById(1)),
      caught(() => createStorage(fresh).users.findById(1)),
    ]);
    await fresh.close();
    expect(performance.now() - started).toBeLessThan(ANSWER_MS);
    const observed = { refuse: [/ECONNREFUSED|ECONNRESET|terminated/, /ECONNREFUSED/], blackhole: [/timeout/i, /timeout/i] }[mode];
    for (const [i, err] of [pooled, connecting].entries()) {
      const e = err as { code?: string; message?: string };
      expect(`${e.code} ${e.message}`).toMatch(observed[i]!);
      expect(isDatabaseUnavailable(err)).toBe(true);
    }
    expect(ms).toBeLessThan(ANSWER_MS);
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ detail: 'Service temporarily unavailable' });
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).not.toMatch(LEAKS);
  }

  async function expectRecovery(stale: 'reset' | 'hang' = 'reset') {
    const restoredAt = performance.now();
    await proxy.restore({ stale });
    const ready = await until('/readyz', 200, restoredAt, RECOVER_MS);
    expect(ready.at).toBeLessThan(RECOVER_MS);
    const route = await until('/test/admins', 200, restoredAt, RECOVER_MS);
    expect(route.at).toBeLessThan(RECOVER_MS);
    await expectServing();
    // More requests at once than the pool holds connections: every pooled connection gets used, so a
    // connection the outage left hanging would show up here as a 503.
    const burst = await Promise.all(Array.from({ length: 15 }, () => t.app.inject({ method: 'GET', url: '/test/admins' })));
    expect(burst.map((r) => r.statusCode)).toEqual(burst.map(() => 200));
  }

  it('serves normally while the database answers through the proxy', async () => {
    await expectServing();
    expect(proxy.openConnections()).toBeGreaterThan(0);
  });

  it('refused (server gone, connections reset): a bare 503 within 2 s, then 200 again after restore', async () => {
    await expectOutageNoticed('refuse');
    await expectRecovery();
  });

  it('black-holed (nothing answers, nothing is refused): a bare 503 within 2 s, then 200 again after restore', async () => {
    // Only the pool's own timeouts can end a request here: nothing ever answers. And after the
    // restore the pooled connections from before stay silent (a firewall that forgot them), so the
    // pool must stop reusing them by itself.
    await expectOutageNoticed('blackhole');
    await expectRecovery('hang');
  });

  it('a query cut off mid-flight is classified as an outage, and the pool recovers', async () => {
    const inFlight = caught(() => sql`select pg_sleep(3)`.execute(storage.handle.db));
    // Wait until the server is running it, so the cut lands mid-query rather than before it was sent.
    const deadline = performance.now() + ANSWER_MS;
    for (;;) {
      const { rowCount } = await withAdmin((c) => c.query(`select 1 from pg_stat_activity where query like 'select pg_sleep(3)%' and state = 'active'`));
      if (rowCount) break;
      if (performance.now() > deadline) throw new Error('the sleeping query never reached the server');
      await pause(20);
    }
    await proxy.cut('refuse');
    const err = (await inFlight) as { code?: string; message?: string };
    expect(`${err.code} ${err.message}`).toMatch(/ECONNRESET|terminated/);
    expect(isDatabaseUnavailable(err)).toBe(true);
    await expectRecovery();
  });

  it('a statement the server cancels at its statement_timeout (a lock held too long) is an outage, as the client\'s own timeout is', async () => {
    const cancelled = (await caught(() => storage.handle.db.transaction().execute(async (trx) => {
      await sql`set local statement_timeout = 50`.execute(trx);
      await sql`select pg_sleep(2)`.execute(trx);
    }))) as { code?: string };
    expect(cancelled.code).toBe('57014');
    expect(isDatabaseUnavailable(cancelled)).toBe(true);
    expect(classifyDatabaseError(cancelled)).toMatchObject({ status: 503 });
  });

  it('a unique violation, a syntax error and a foreign-key violation are not outages', async () => {
    const u = await storage.users.create({ username: 'dup', email: 'dup@example.test', fullName: null, passwordHash: 'h', role: 'user' }, 1);
    const dup = await caught(() => storage.users.create({ username: 'DUP', email: 'other@example.test', fullName: null, passwordHash: 'h', role: 'user' }, 1));
    expect(isDatabaseUnavailable(dup)).toBe(false);
    expect(isDatabaseUnavailable((dup as Error).cause)).toBe(false);
    expect(isDatabaseUnavailable(await caught(() => sql`selec 1`.execute(storage.handle.db)))).toBe(false);
    expect(isDatabaseUnavailable(await caught(() => sql`select * from no_such_table`.execute(storage.handle.db)))).toBe(false);
    const fk = await caught(() => storage.sessions.insertRefreshToken({ tokenHash: 'x', sessionId: 'missing', createdAt: 1, expiresAt: 2 }));
    expect(isDatabaseUnavailable(fk)).toBe(false);
    expect(u.id).toBeGreaterThan(0);
  });
});

describe.skipIf(!pgUrl)('a database switched off for new connections on postgres is an outage (503), not a 500', () => {
  const suffix = randomBytes(5).toString('hex');
  const database = `gh_off_${suffix}`;
  const role = `gh_nologin_${suffix}`;
  beforeAll(async () => {
    await withAdmin(async (c) => {
      await c.query(`create database ${database}`);
      await c.query(`alter database ${database} allow_connections false`);
      await c.query(`create role ${role} nologin`);
    });
  });
  afterAll(async () => {
    await withAdmin(async (c) => {
      await c.query(`drop database if exists ${database}`);
      await c.query(`drop role if exists ${role}`);
    });
  });

  const urlWith = (change: (u: URL) => void) => {
    const u = new URL(pgUrl!);
    change(u);
    return u.toString();
  };
  for (const [name, code, url] of [
    ['dropped (3D000)', '3D000', () => urlWith((u) => { u.pathname = `/gh_gone_${suffix}`; })],
    ['its role may no longer log in (28000)', '28000', () => urlWith((u) => { u.username = role; })],
    ['it accepts no connections (55000)', '55000', () => urlWith((u) => { u.pathname = `/${database}`; })],
  ] as const) {
    it(name, async () => {
      const handle = openDatabase(url());
      try {
        const err = await caught(() => createStorage(handle).users.findById(1));
        expect((err as { code?: string }).code).toBe(code);
        expect(isDatabaseUnavailable(err)).toBe(true);
        // An app (on a database that works) whose route needs the switched-off one.
        const off = createStorage(handle);
        const t = await testApp({ routes: (app) => {
          app.get('/test/admins', async () => ({ admins: await off.users.countActiveAdmins() }));
        } });
        try {
          const res = await t.app.inject({ method: 'GET', url: '/test/admins' });
          expect(res.statusCode).toBe(503);
          expect(res.json()).toEqual({ detail: 'Service temporarily unavailable' });
        } finally {
          await t.close();
        }
      } finally {
        await handle.close();
      }
    });
  }
});

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`isDatabaseUnavailable on ${target.name}: not for faults in the query`, () => {
    let s: TestStorage;
    beforeAll(async () => {
      s = await target.open();
    });
    afterAll(() => s?.close());

    it('a unique violation and a syntax error are not outages', async () => {
      await s.users.create({ username: 'same', email: 'same@example.test', fullName: null, passwordHash: 'h', role: 'user' }, 1);
      const dup = await caught(() => s.users.create({ username: 'SAME', email: 'x@example.test', fullName: null, passwordHash: 'h', role: 'user' }, 1));
      expect(isDatabaseUnavailable(dup)).toBe(false);
      expect(isDatabaseUnavailable((dup as Error).cause)).toBe(false);
      expect(isDatabaseUnavailable(await caught(() => sql`selec 1`.execute(s.handle.db)))).toBe(false);
      expect(isDatabaseUnavailable(new TypeError('x is not a function'))).toBe(false);
      // Node's own "the client hung up mid-body" shares ECONNRESET with a reset database link.
      expect(isDatabaseUnavailable(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))).toBe(false);
      expect(isDatabaseUnavailable(undefined)).toBe(false);
    });

    it('text the database cannot store (a NUL) is the client\'s 400, not an outage; other query faults stay as they are', async () => {
      const search = () => s.users.list({ q: 'a\u0000b', limit: 5, offset: 0 });
      if (target.name === 'postgres') {
        expect(classifyDatabaseError(await caught(search))).toMatchObject({ name: 'HttpError', status: 400, code: 'UNSTORABLE_TEXT' });
      } else {
        // SQLite keeps a NUL: the search simply finds nothing.
        expect(await search()).toMatchObject({ users: [], total: 0 });
      }
      const syntax = await caught(() => sql`selec 1`.execute(s.handle.db));
      expect(classifyDatabaseError(syntax)).toBe(syntax);
    });
  });
}

describe('isDatabaseUnavailable on sqlite: a busy database is an outage', () => {
  it('classifies SQLITE_BUSY from a writer locked out by another connection', async () => {
    const url = `sqlite:${tempDir()}/busy.db`;
    const storage = await openStorage(url);
    const other = new SqliteDatabase(url.slice('sqlite:'.length), { timeout: 0 });
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const lockTaken = new Promise<void>((resolve) => (locked = resolve));
      const writer = storage.transaction(async (repos) => {
        await repos.audit.insert({ time: 1, action: 'logout', userId: null, ip: null, userAgent: null, requestId: null, outcome: 'success', details: null });
        locked();
        await held;
      });
      await lockTaken;
      let busy: unknown;
      try {
        other.prepare(`insert into audit_events (time, action, outcome) values (2, 'logout', 'success')`).run();
      } catch (err) {
        busy = err;
      }
      release();
      await writer;
      expect((busy as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
      expect(isDatabaseUnavailable(busy)).toBe(true);
    } finally {
      other.close();
      await storage.close();
    }
  });
});

// A backup or another process holding SQLite's write lock: writes wait for it on a timer, never with
// the event loop stopped (busy_timeout did that, for 3 s per write, stacking), and once it has been held
// too long they answer 503 at once; /readyz says so; everything serves again when the lock is let go.
describe('a SQLite database locked by another process', () => {
  let t: TestApp;
  let other: SqliteDatabase.Database;
  const event = (n: number) => ({ time: n, action: 'logout', userId: null, ip: null, userAgent: null, requestId: null, outcome: 'success' as const, details: null });
  beforeAll(async () => {
    const url = `sqlite:${tempDir()}/locked.db`;
    const storage = Object.assign(await openStorage(url), { url });
    t = await testApp({
      storage,
      routes: (app) => {
        app.post('/test/write', async () => {
          await storage.audit.insert(event(1));
          return { written: true };
        });
        app.post('/test/transaction', async () => storage.transaction(async (repos) => {
          await repos.audit.insert(event(2));
          return { written: true };
        }));
      },
    });
    other = new SqliteDatabase(url.slice('sqlite:'.length), { timeout: 0 });
  });
  afterAll(async () => {
    if (other?.inTransaction) other.exec('rollback');
    other?.close();
    await t?.close();
  });

  const timed = async (method: 'GET' | 'POST', url: string) => {
    const started = performance.now();
    const res = await t.app.inject({ method, url });
    return { res, ms: performance.now() - started };
  };

  it('a lock held for a moment is waited for: the write goes through', async () => {
    other.exec('begin exclusive');
    const pending = timed('POST', '/test/write');
    setTimeout(() => other.exec('commit'), 100);
    const { res } = await pending;
    expect(res.statusCode, res.body).toBe(200);
  });

  it('a lock held on: writes 503 within the bound while /healthz answers at once; /readyz 503; all serve again after', async () => {
    other.exec('begin exclusive');
    const lockedAt = performance.now();
    const writes = Array.from({ length: 5 }, (_, i) => timed('POST', i % 2 ? '/test/transaction' : '/test/write'));
    // While the writes wait, the process is free: the health check is not queued behind them.
    const health = await timed('GET', '/healthz');
    expect(health.res.statusCode).toBe(200);
    expect(health.ms).toBeLessThan(500);
    const ready = await timed('GET', '/readyz');
    for (const { res, ms } of await Promise.all(writes)) {
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toEqual({ detail: 'Service temporarily unavailable' });
      expect(ms).toBeLessThan(ANSWER_MS);
    }
    expect(ready.res.statusCode).toBe(503);
    expect(performance.now() - lockedAt).toBeLessThan(ANSWER_MS);
    // Once it has been held that long, a new write does not wait again.
    expect((await timed('POST', '/test/write')).ms).toBeLessThan(500);

    other.exec('rollback');
    expect((await timed('GET', '/readyz')).res.statusCode).toBe(200);
    expect((await timed('POST', '/test/write')).res.statusCode).toBe(200);
    expect((await timed('POST', '/test/transaction')).res.statusCode).toBe(200);
  });
});

// The SQLite file deleted or moved away while open: SQLite would go on writing to it, every write
// acknowledged and gone at the next start. Within 2 s every request that needs the database and
// /readyz answer 503; moved back, it serves again; a different file at the path is never written to.
describe('a SQLite database file gone from its path', () => {
  let t: TestApp;
  let file: string;
  const event = { time: 1, action: 'logout', userId: null, ip: null, userAgent: null, requestId: null, outcome: 'success' as const, details: null };
  beforeAll(async () => {
    file = `${tempDir()}/moved.db`;
    const url = `sqlite:${file}`;
    const storage = Object.assign(await openStorage(url), { url });
    t = await testApp({
      storage,
      routes: (app) => {
        app.post('/test/write', async () => {
          await storage.audit.insert(event);
          return { written: true };
        });
      },
    });
  });
  afterAll(() => t?.close());

  const status = async (method: 'GET' | 'POST', url: string) => (await t.app.inject({ method, url })).statusCode;

  it('moved away: writes and /readyz 503 within 2 s, /healthz 200; moved back: serves again', async () => {
    expect(await status('POST', '/test/write')).toBe(200);
    renameSync(file, `${file}.away`);
    const movedAt = performance.now();
    await until(() => status('POST', '/test/write'), (s) => s === 503, 2000, 'writes refused once the file is gone');
    expect(await status('GET', '/readyz')).toBe(503);
    expect(await status('GET', '/healthz')).toBe(200);
    expect(performance.now() - movedAt).toBeLessThan(2000);
    const refused = await t.app.inject({ method: 'POST', url: '/test/write' });
    expect(refused.json()).toEqual({ detail: 'Service temporarily unavailable' });
    expect(refused.body).not.toMatch(LEAKS);

    renameSync(`${file}.away`, file);
    await until(() => status('POST', '/test/write'), (s) => s === 200, 2000, 'writes again once the file is back');
    expect(await status('GET', '/readyz')).toBe(200);
  });

  it('replaced by another file (a copy put at the path): never written to, 503 until a restart opens it', async () => {
    copyFileSync(file, `${file}.copy`);
    renameSync(`${file}.copy`, file);
    await until(() => status('POST', '/test/write'), (s) => s === 503, 2000, 'writes refused once the file is replaced');
    expect(await status('GET', '/readyz')).toBe(503);
  });
});
