// Migrations on every database: idempotent, safe when two `gatehouse migrate` processes race, confined
// to their own PostgreSQL schema; and what a process acknowledged survives that process being killed.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Migrator, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type DatabaseHandle, type Dialect } from '../../src/storage/database.js';
import { openStorage } from '../../src/storage/index.js';
import { migrateToLatest } from '../../src/storage/migrate.js';
import { migrations } from '../../src/storage/migrations/index.js';
import { TEST_SECRET, tempDir } from '../helpers/config.js';
import { databaseTargets, withAdmin } from '../helpers/databases.js';
import { BIN } from '../helpers/process.js';

const pgUrl = process.env.TEST_DATABASE_URL;
const DIST_STORAGE = new URL('../../dist/storage/index.js', import.meta.url).href;

interface Fresh {
  /** A DATABASE_URL for an empty database: a new SQLite file, or a new schema named in the URL. */
  readonly url: string;
  readonly schema: string | undefined;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  const results = await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
});


async function fresh(dialect: Dialect): Promise<Fresh> {
  if (dialect === 'sqlite') return { url: `sqlite:${join(tempDir(), 'gatehouse.db')}`, schema: undefined };
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`create schema ${schema}`));
  cleanups.push(() => withAdmin((c) => c.query(`drop schema if exists ${schema} cascade`)).then(() => undefined));
  // The same shape as the helper's `url`: what an operator would put in DATABASE_URL.
  return { url: `${pgUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, schema };
}

async function appliedNames(handle: DatabaseHandle): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(handle.db);
  return rows.map((r) => r.name);
}

function run(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

for (const target of databaseTargets) {
  const dialect = target.name;
  const names = Object.keys(migrations(dialect));

  // Concurrent: every test has its own fresh database, and most of the time is spent waiting on processes.
  describe.skipIf(!target.available)(`migrations on ${dialect}`, { concurrent: true }, () => {
    it('migrateToLatest applies every migration once; a second run applies nothing', async () => {
      const { url } = await fresh(dialect);
      const handle = openDatabase(url);
      try {
        expect(await migrateToLatest(handle)).toEqual({ applied: names });
        expect(await migrateToLatest(handle)).toEqual({ applied: [] });
        expect(await appliedNames(handle)).toEqual(names);
      } finally {
        await handle.close();
      }
    });

    it('005 on a database of the release before: the step before the last used one counts as used too', async () => {
      const { url } = await fresh(dialect);
      const handle = openDatabase(url);
      try {
        const before = Object.fromEntries(Object.entries(migrations(dialect)).filter(([name]) => name < '005'));
        const { error } = await new Migrator({ db: handle.db, provider: { getMigrations: async () => before } }).migrateToLatest();
        expect(error).toBeUndefined();
        await sql`insert into users (username, email, password_hash, role, is_active, authz_version, mfa_enabled, mfa_secret, mfa_last_step, created_at, updated_at)
          values ('totp_user', 'totp@example.test', 'h', 'user', 1, 1, 1, 'sealed', 100, 1, 1)`.execute(handle.db);
        expect((await migrateToLatest(handle)).applied).toEqual(names.filter((name) => name >= '005'));
      } finally {
        await handle.close();
      }
      const storage = await openStorage(url);
      try {
        const user = (await storage.users.findByLogin('totp_user'))!;
        // The old release may have accepted 99 before 100: neither is accepted again.
        expect(await storage.users.acceptTotpStep(user.id, 99, 'sealed')).toBe(false);
        expect(await storage.users.acceptTotpStep(user.id, 100, 'sealed')).toBe(false);
        expect(await storage.users.acceptTotpStep(user.id, 101, 'sealed')).toBe(true);
      } finally {
        await storage.close();
      }
    });

    it('two `gatehouse migrate` processes racing on one database both succeed and migrate once', async () => {
      const { url, schema } = await fresh(dialect);
      const cwd = tempDir();
      // The CLI reads DATABASE_URL through the config: it must accept the URL as given.
      expect(loadConfig({ DATABASE_URL: url, SECRET_KEY: TEST_SECRET }, { cwd }).config.databaseUrl).toBe(url);
      const env = { DATABASE_URL: url, SECRET_KEY: TEST_SECRET, DATA_DIR: cwd, LOG_LEVEL: 'silent' };
      const results = await Promise.all([run([BIN, 'migrate'], env, cwd), run([BIN, 'migrate'], env, cwd)]);
      for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
      expect(results.map((r) => r.stdout).sort()).toEqual([`applied: ${names.join(', ')}\n`, 'schema is up to date\n']);
      const handle = openDatabase(url);
      try {
        expect(await appliedNames(handle)).toEqual(names);
        if (schema) {
          const { rows } = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = ${schema} and table_name = 'users'`.execute(handle.db);
          expect(rows).toEqual([{ table_name: 'users' }]);
        }
      } finally {
        await handle.close();
      }
    });

    it('a write acknowledged by a process that is then killed is there for the next process', async () => {
      const { url } = await fresh(dialect);
      const script = `
        const { openStorage } = await import(${JSON.stringify(DIST_STORAGE)});
        const s = await openStorage(process.env.DATABASE_URL);
        const u = await s.transaction(async (r) => {
          const u = await r.users.create({ username: 'durable', email: 'durable@example.test', fullName: null, passwordHash: 'h', role: 'admin' }, 1);
          await r.audit.insert({ time: 1, action: 'login.success', userId: u.id, ip: null, userAgent: null, requestId: null, outcome: 'success', details: null });
          return u;
        });
        process.stdout.write('ack ' + u.id + '\\n');
        setInterval(() => undefined, 60_000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise((resolve) => child.on('close', resolve));
      const ack = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => /ack \d+/.test(d.toString()) && resolve(d.toString()));
        child.on('close', () => reject(new Error(`child exited before acknowledging: ${stderr}`)));
      });
      child.kill('SIGKILL');
      expect(await exited).toBeNull();
      const storage = await openStorage(url);
      try {
        const user = await storage.users.findByLogin('durable');
        expect(ack.trim()).toBe(`ack ${user?.id}`);
        expect(user).toMatchObject({ role: 'admin', email: 'durable@example.test' });
        expect((await storage.audit.list({ limit: 10, offset: 0, userId: user!.id })).total).toBe(1);
      } finally {
        await storage.close();
      }
    });
  });
}

describe('migrations on sqlite files', () => {
  it('data survives closing and reopening the file, and reopening migrates nothing', async () => {
    const { url } = await fresh('sqlite');
    const first = await openStorage(url);
    const u = await first.users.create({ username: 'keeper', email: 'keeper@example.test', fullName: 'K', passwordHash: 'h', role: 'user' }, 1000);
    await first.sessions.create({ id: 'sess-keep', userId: u.id, kind: 'browser', createdAt: 1000, expiresAt: 9000, ip: null, userAgent: null, scope: '' });
    await first.close();
    const second = await openStorage(url);
    try {
      expect(await second.users.findById(u.id)).toEqual(u);
      expect(await second.sessions.findById('sess-keep')).toMatchObject({ userId: u.id });
      expect(await migrateToLatest(second.handle)).toEqual({ applied: [] });
    } finally {
      await second.close();
    }
  });
});

describe.skipIf(!pgUrl)('migrations on postgres schemas', () => {
  // Regression: unqualified, Kysely took another schema's kysely_migration table for this one's and
  // then failed with "relation kysely_migration_lock does not exist".
  it('a schema migrates while another schema of the same database already has a migrated copy', async () => {
    const a = await fresh('postgres');
    const b = await fresh('postgres');
    const first = await openStorage(pgUrl!, { schema: a.schema });
    try {
      const second = await openStorage(pgUrl!, { schema: b.schema });
      try {
        expect(await appliedNames(second.handle)).toEqual(Object.keys(migrations('postgres')));
        await second.users.create({ username: 'only-in-b', email: 'b@example.test', fullName: null, passwordHash: 'h', role: 'user' }, 1);
        expect(await first.users.findByLogin('only-in-b')).toBeUndefined();
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });

  // Regression: Kysely's stock introspector read every table of every schema, resolving each schema
  // by name, so a schema dropped while it ran (another app's deploy; in CI, another test file) failed
  // the migration with "schema … does not exist". What the Migrator is told now comes from this
  // schema alone: a table elsewhere is never looked at.
  it('the migration looks at its own schema only: another schema\'s tables are never listed', async () => {
    const other = await fresh('postgres');
    await withAdmin((c) => c.query(`create table ${other.schema}.kysely_migration (name varchar(255) primary key, timestamp varchar(255))`));
    const target = await fresh('postgres');
    const storage = await openStorage(pgUrl!, { schema: target.schema });
    try {
      const tables = await storage.handle.db.introspection.getTables({ withInternalKyselyTables: true });
      expect(new Set(tables.map((t) => t.schema))).toEqual(new Set([target.schema]));
      expect(tables.map((t) => t.name)).toContain('kysely_migration');
      expect(tables.map((t) => t.name)).toContain('users');
      expect(await storage.handle.db.introspection.getSchemas()).toEqual([{ name: target.schema }]);
      expect(await appliedNames(storage.handle)).toEqual(Object.keys(migrations('postgres')));
    } finally {
      await storage.close();
    }
  });
});

describe.skipIf(!pgUrl)('the migration lock on postgres', () => {
  it('a runner that holds the lock too long makes a start fail with a clear error instead of waiting without end', async () => {
    const { url } = await fresh('postgres');
    const handle = openDatabase(url);
    try {
      // Another runner holding the lock (a stuck migration): released when its connection closes.
      const held = await withAdmin(async (other) => {
        await other.query('select pg_advisory_lock($1)', [0x6761_7465]);
        return migrateToLatest(handle, { lockWaitMs: 300 }).then(() => 'migrated', (err: Error) => err.message);
      });
      expect(held).toMatch(/another process has held the migration lock/);
      expect(await migrateToLatest(handle)).toEqual({ applied: Object.keys(migrations('postgres')) });
    } finally {
      await handle.close();
    }
  });
});
