// The first administrator, as an operator makes one, through the real `gatehouse` process:
// FIRST_SUPERUSER / FIRST_SUPERUSER_PASSWORD at start-up (created once, never by promoting an
// existing account: that start is refused with a line naming FIRST_SUPERUSER), and
// `gatehouse create-admin` with --password-stdin or interactively (password asked twice, no echo,
// under a real pseudo-terminal). Steps follow the process's own output, never a sleep; each test
// has its own DATA_DIR and database. They run one after another: each start is CPU-bound (Node,
// migrations, argon2id), and side by side on a busy CI machine they only slow each other down.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { createPasswordHasher } from '../../src/crypto/passwords.js';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { TEST_SECRET, tempDir } from '../helpers/config.js';
import { databaseTargets } from '../helpers/databases.js';
import { BIN } from '../helpers/process.js';

const ADMIN_PASSWORD = 'first admin passphrase 77';
/** A bound on each step (a busy CI machine starts Node slowly), not a wait; startup.test.ts holds the contract's 20 s. */
const STEP_MS = 120_000;
const TIMEOUT = { timeout: 360_000 };

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${STEP_MS} ms`)), STEP_MS); });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

interface Run {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves once the combined output contains `text` (already or later). */
  waitFor(text: string | RegExp): Promise<void>;
  readonly exit: Promise<number | null>;
}

/** Every process a test started; one a failed step left running is ended after the file. */
const children = new Set<ChildProcess>();

function run(command: string, args: string[], env: Record<string, string>, stdin?: string): Run {
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', HOME: env.DATA_DIR ?? tempDir(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  const waiters: { test: string | RegExp; resolve: () => void }[] = [];
  const seen = (test: string | RegExp) => (typeof test === 'string' ? text.includes(test) : test.test(text));
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const w of waiters.splice(0)) (seen(w.test) ? w.resolve() : waiters.push(w));
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  if (stdin !== undefined) child.stdin!.end(stdin);
  children.add(child);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => { children.delete(child); resolve(code); }));
  return {
    child, exit,
    output: () => text,
    waitFor: (test) => within(seen(test) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ test, resolve })), `output ${String(test)}`),
  };
}

interface Served {
  readonly url: string;
  readonly run: Run;
  stop(): Promise<number | null>;
}

async function serve(env: Record<string, string>): Promise<Served> {
  const r = run(process.execPath, [BIN, 'serve'], { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', SECRET_KEY: TEST_SECRET, ...env });
  const started = await within(Promise.race([r.waitFor('gatehouse listening').then(() => true), r.exit.then(() => false)]), 'start');
  if (!started) throw new Error(`gatehouse did not start: ${r.output()}`);
  const url = r.output().split('\n').map((text) => {
    try {
      return JSON.parse(text) as { msg?: string; url?: string };
    } catch {
      return {};
    }
  }).find((entry) => entry.msg === 'gatehouse listening')?.url;
  if (!url) throw new Error(`no listening line: ${r.output()}`);
  return {
    url, run: r,
    async stop() {
      r.child.kill('SIGTERM');
      return within(r.exit, 'exit after SIGTERM');
    },
  };
}

async function signIn(url: string, username: string, password: string): Promise<Response> {
  return fetch(`${url}/api/v1/auth/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password }),
  });
}

/** An environment for one test: its own DATA_DIR and database (a SQLite file, or a fresh PostgreSQL schema). */
async function environment(target: (typeof databaseTargets)[number]): Promise<{ env: Record<string, string>; storage: () => Promise<Storage>; cleanup: () => Promise<void> }> {
  const dataDir = tempDir();
  if (target.name === 'sqlite') {
    const databaseUrl = `sqlite:${join(dataDir, 'gatehouse.db')}`;
    return { env: { DATA_DIR: dataDir, DATABASE_URL: databaseUrl }, storage: () => openStorage(databaseUrl), cleanup: async () => undefined };
  }
  const pg = await target.open();
  return { env: { DATA_DIR: dataDir, DATABASE_URL: pg.url }, storage: async () => pg, cleanup: () => pg.close() };
}

const opened: Storage[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const s of opened) await s.close().catch(() => undefined);
});

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`FIRST_SUPERUSER on ${target.name}`, () => {
    it('creates the admin once (username = part before @); a later start with it set changes nothing', TIMEOUT, async ({ expect }) => {
      const e = await environment(target);
      try {
        const env = { ...e.env, FIRST_SUPERUSER: 'Chief@Example.com', FIRST_SUPERUSER_PASSWORD: ADMIN_PASSWORD };
        const first = await serve(env);
        try {
          const res = await signIn(first.url, 'Chief', ADMIN_PASSWORD);
          expect(res.status).toBe(200);
          const { access_token: token } = (await res.json()) as { access_token: string };
          const users = await fetch(`${first.url}/api/v1/admin/users`, { headers: { authorization: `Bearer ${token}` } });
          expect(users.status).toBe(200);
          expect(await users.json()).toEqual([expect.objectContaining({ username: 'Chief', email: 'Chief@example.com', role: 'admin', is_active: true })]);
          expect(first.run.output()).toContain('created the first administrator');
          expect(first.run.output()).not.toContain(ADMIN_PASSWORD);
        } finally {
          expect(await first.stop()).toBe(0);
        }
        const second = await serve({ ...env, FIRST_SUPERUSER: 'another@example.com', FIRST_SUPERUSER_PASSWORD: 'another passphrase 88' });
        try {
          expect(second.run.output()).not.toContain('created the first administrator');
          expect((await signIn(second.url, 'another', 'another passphrase 88')).status).toBe(401);
          expect((await signIn(second.url, 'chief@example.com', ADMIN_PASSWORD)).status).toBe(200);
        } finally {
          expect(await second.stop()).toBe(0);
        }
      } finally {
        await e.cleanup();
      }
    });

    it('an existing account with that email is never promoted: the start is refused naming FIRST_SUPERUSER', TIMEOUT, async ({ expect }) => {
      const e = await environment(target);
      try {
        const storage = await e.storage();
        const squatter = await storage.users.create({ username: 'squatter', email: 'boss@example.com', fullName: null, passwordHash: 'x', role: 'user' }, Date.now());
        if (target.name === 'sqlite') await storage.close();
        const r = run(process.execPath, [BIN, 'serve'], { HOST: '127.0.0.1', PORT: '0', SECRET_KEY: TEST_SECRET, ...e.env, FIRST_SUPERUSER: 'BOSS@example.com', FIRST_SUPERUSER_PASSWORD: ADMIN_PASSWORD });
        expect(await within(r.exit, 'refused start')).not.toBe(0);
        expect(r.output()).toMatch(/^gatehouse: FIRST_SUPERUSER\b.*not promoted/m);
        expect(r.output()).not.toContain(ADMIN_PASSWORD);
        const after = await e.storage();
        if (target.name === 'sqlite') opened.push(after);
        expect((await after.users.findById(squatter.id))?.role).toBe('user');
        expect(await after.users.countAdmins()).toBe(0);
      } finally {
        await e.cleanup();
      }
    });
  });
}

describe('FIRST_SUPERUSER refusals (SQLite)', () => {
  const sqlite = databaseTargets[0]!;

  it('an existing account with the derived username is not promoted either', TIMEOUT, async ({ expect }) => {
    const e = await environment(sqlite);
    const storage = await e.storage();
    await storage.users.create({ username: 'boss', email: 'someone.else@example.com', fullName: null, passwordHash: 'x', role: 'user' }, Date.now());
    await storage.close();
    const r = run(process.execPath, [BIN, 'serve'], { PORT: '0', SECRET_KEY: TEST_SECRET, ...e.env, FIRST_SUPERUSER: 'boss@corp.example', FIRST_SUPERUSER_PASSWORD: ADMIN_PASSWORD });
    expect(await within(r.exit, 'refused start')).not.toBe(0);
    expect(r.output()).toMatch(/^gatehouse: FIRST_SUPERUSER\b.*username/m);
  });

  it('a password that fails the policy is refused naming FIRST_SUPERUSER_PASSWORD (and not echoed)', TIMEOUT, async ({ expect }) => {
    const e = await environment(sqlite);
    const r = run(process.execPath, [BIN, 'serve'], { PORT: '0', SECRET_KEY: TEST_SECRET, ...e.env, FIRST_SUPERUSER: 'admin@example.com', FIRST_SUPERUSER_PASSWORD: 'password123' });
    expect(await within(r.exit, 'refused start')).not.toBe(0);
    expect(r.output()).toMatch(/^gatehouse: FIRST_SUPERUSER_PASSWORD\b/m);
    expect(r.output()).not.toContain('password123');
  });
});

describe('gatehouse create-admin', () => {
  const sqlite = databaseTargets[0]!;
  const hasher = createPasswordHasher();

  it('--email --username --password-stdin creates an admin whose password verifies', TIMEOUT, async ({ expect }) => {
    const e = await environment(sqlite);
    const r = run(process.execPath, [BIN, 'create-admin', '--email', 'ops@example.com', '--username', 'ops_admin', '--password-stdin'], { SECRET_KEY: TEST_SECRET, ...e.env }, `${ADMIN_PASSWORD}\n`);
    expect(await within(r.exit, 'create-admin'), r.output()).toBe(0);
    expect(r.output()).toMatch(/created administrator ops_admin <ops@example\.com>/);
    expect(r.output()).not.toContain(ADMIN_PASSWORD);
    const storage = await e.storage();
    opened.push(storage);
    const admin = await storage.users.findByLogin('ops_admin');
    expect(admin).toMatchObject({ role: 'admin', isActive: true, email: 'ops@example.com' });
    expect(admin!.passwordHash).toMatch(/^\$argon2id\$/);
    expect((await hasher.verify(admin!.passwordHash, ADMIN_PASSWORD)).ok).toBe(true);
  });

  it('every answer piped at once (no terminal) creates the admin; stdin ending early is a clear refusal', TIMEOUT, async ({ expect }) => {
    const e = await environment(sqlite);
    // One write holding all four answers: a reader per question used to swallow the rest and exit 0 having made nothing.
    const r = run(process.execPath, [BIN, 'create-admin'], { SECRET_KEY: TEST_SECRET, ...e.env }, `piped@example.com\npiped_admin\n${ADMIN_PASSWORD}\n${ADMIN_PASSWORD}\n`);
    expect(await within(r.exit, 'create-admin'), r.output()).toBe(0);
    expect(r.output()).toMatch(/created administrator piped_admin <piped@example\.com>/);
    const storage = await e.storage();
    opened.push(storage);
    expect(await storage.users.findByLogin('piped_admin')).toMatchObject({ role: 'admin', email: 'piped@example.com' });

    const early = run(process.execPath, [BIN, 'create-admin'], { SECRET_KEY: TEST_SECRET, ...e.env }, 'early@example.com\n');
    expect(await within(early.exit, 'create-admin')).toBe(1);
    expect(early.output()).toContain('input ended before every question was answered');
    expect(await storage.users.findByLogin('early@example.com')).toBeUndefined();
  });

  it('refuses a taken email (no promotion), a weak password and a bad username, exiting non-zero', TIMEOUT, async ({ expect }) => {
    const e = await environment(sqlite);
    const storage = await e.storage();
    await storage.users.create({ username: 'taken', email: 'taken@example.com', fullName: null, passwordHash: 'x', role: 'user' }, Date.now());
    await storage.close();
    const taken = run(process.execPath, [BIN, 'create-admin', '--email', 'taken@example.com', '--username', 'fresh_name', '--password-stdin'], { SECRET_KEY: TEST_SECRET, ...e.env }, `${ADMIN_PASSWORD}\n`);
    expect(await within(taken.exit, 'create-admin')).not.toBe(0);
    expect(taken.output()).toMatch(/already exists/);
    const weak = run(process.execPath, [BIN, 'create-admin', '--email', 'new@example.com', '--password-stdin'], { SECRET_KEY: TEST_SECRET, ...e.env }, 'password123\n');
    expect(await within(weak.exit, 'create-admin')).not.toBe(0);
    expect(weak.output()).toMatch(/password: Password is too common/);
    // Scripts must name the email: stdin carries the password.
    const noEmail = run(process.execPath, [BIN, 'create-admin', '--password-stdin'], { SECRET_KEY: TEST_SECRET, ...e.env }, `${ADMIN_PASSWORD}\n`);
    expect(await within(noEmail.exit, 'create-admin')).not.toBe(0);
    expect(noEmail.output()).toContain('--password-stdin needs --email');
    // A bad identity is named as such, not blamed on the password.
    const short = run(process.execPath, [BIN, 'create-admin', '--email', 'x@example.com', '--password-stdin'], { SECRET_KEY: TEST_SECRET, ...e.env }, `${ADMIN_PASSWORD}\n`);
    expect(await within(short.exit, 'create-admin')).not.toBe(0);
    expect(short.output()).toMatch(/^gatehouse: email\/username: username is invalid/m);
    expect(short.output()).not.toContain(ADMIN_PASSWORD);
    // The address is judged as registration judges it, and named when it is the fault.
    for (const email of ['not-an-email', 'adm@example.com.', 'adm@-example.com']) {
      const bad = run(process.execPath, [BIN, 'create-admin', '--email', email, '--password-stdin'], { SECRET_KEY: TEST_SECRET, ...e.env }, `${ADMIN_PASSWORD}\n`);
      expect(await within(bad.exit, 'create-admin'), email).not.toBe(0);
      expect(bad.output()).toMatch(/^gatehouse: email\/username: email is invalid/m);
    }
    const after = await e.storage();
    opened.push(after);
    expect((await after.users.findByLogin('taken'))?.role).toBe('user');
    expect(await after.users.countAdmins()).toBe(0);
  });

  const hasPty = spawnSync('script', ['--version']).status === 0;
  describe.skipIf(!hasPty)('interactively, under a pseudo-terminal', () => {
    const interactive = (env: Record<string, string>) =>
      run('script', ['-qfec', `'${process.execPath}' '${BIN}' create-admin`, '/dev/null'], { SECRET_KEY: TEST_SECRET, TERM: 'dumb', ...env });

    it('asks for the password twice without echoing it; what is typed elsewhere is echoed', TIMEOUT, async ({ expect }) => {
      const e = await environment(sqlite);
      const r = interactive(e.env);
      await r.waitFor('Email: ');
      r.child.stdin!.write('term@example.com\r');
      await r.waitFor(/Username \[term\]: /);
      r.child.stdin!.write('term_admin\r');
      await r.waitFor('Password: ');
      const afterUsername = r.output();
      expect(afterUsername).toContain('term_admin');
      r.child.stdin!.write(`${ADMIN_PASSWORD}\r`);
      await r.waitFor('Repeat password: ');
      r.child.stdin!.write(`${ADMIN_PASSWORD}\r`);
      expect(await within(r.exit, 'create-admin'), r.output()).toBe(0);
      expect(r.output()).toMatch(/created administrator term_admin <term@example\.com>/);
      expect(r.output()).not.toContain(ADMIN_PASSWORD);
      expect(r.output()).not.toContain(ADMIN_PASSWORD.slice(0, 6));
      const storage = await e.storage();
      opened.push(storage);
      expect((await storage.users.findByLogin('term_admin'))?.role).toBe('admin');
    });

    it('two different passwords: nothing is created, exit non-zero', TIMEOUT, async ({ expect }) => {
      const e = await environment(sqlite);
      const r = interactive(e.env);
      await r.waitFor('Email: ');
      r.child.stdin!.write('mismatch@example.com\r');
      await r.waitFor('Username [mismatch]: ');
      r.child.stdin!.write('\r');
      await r.waitFor('Password: ');
      r.child.stdin!.write(`${ADMIN_PASSWORD}\r`);
      await r.waitFor('Repeat password: ');
      r.child.stdin!.write('something else entirely\r');
      expect(await within(r.exit, 'create-admin')).not.toBe(0);
      expect(r.output()).toContain('the passwords do not match');
      expect(r.output()).not.toContain('something else entirely');
      const storage = await e.storage();
      opened.push(storage);
      expect(await storage.users.countAdmins()).toBe(0);
    });
  });
});
