// Contract "Running it" and "Operations", as an operator sees them: the real `gatehouse serve`
// process serves /healthz with every contract header; a bad variable or a production start without
// a secret exits non-zero within 20 s naming the variable; SIGTERM exits 0, after letting an
// in-flight request finish; what it acknowledged is still there after a restart. Each test has
// its own process, port and DATA_DIR; the cheap refusals run concurrently.
// Steps are sequenced by the process's own output and HTTP events, never by sleeping.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as connectSocket, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { describe, it, type ExpectStatic } from 'vitest';
import { tempDir } from '../helpers/config.js';
import { BIN, freePort, within } from '../helpers/process.js';
import { redisUrl } from '../helpers/redis.js';

/** The contract's bounds: a refused start exits within 20 s, a SIGTERM within 30 s. */
const REFUSAL_DEADLINE_MS = 20_000;
const SIGTERM_DEADLINE_MS = 30_000;
/** No contract bound; generous, because a loaded CI machine starts Node slowly. */
const STEP_DEADLINE_MS = 60_000;
/** Per test: up to two starts and two drains. */
const PROCESS_TEST_TIMEOUT_MS = 180_000;



interface Server {
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly port: number;
  readonly stdout: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first stdout JSON line matching `test` (already written or still to come). */
  line(test: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start` as the README shows it, from the repository's root. */
const NPM_START = { command: 'npm', args: ['start', '--silent'], cwd: fileURLToPath(new URL('../..', import.meta.url)) };

async function gatehouse(env: Record<string, string>, dataDir = tempDir(), via?: typeof NPM_START): Promise<Server> {
  const port = await freePort();
  const child = spawn(via?.command ?? process.execPath, via?.args ?? [BIN, 'serve'], {
    // A clean environment: nothing from the test runner leaks into the server's configuration.
    env: { PATH: process.env.PATH ?? '', HOME: dataDir, DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
    cwd: via?.cwd ?? dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: Record<string, unknown>[] = [];
  const waiters: { test: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { notJson: text };
    }
    stdout.push(parsed);
    for (const w of waiters.splice(0)) (w.test(parsed) ? w.resolve(parsed) : waiters.push(w));
  });
  // 'close', not 'exit': only then has everything the process wrote to stdout/stderr been read.
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child, dataDir, port, stdout, exit,
    stderr: () => stderr,
    line(test, what) {
      const seen = stdout.find(test);
      if (seen) return Promise.resolve(seen);
      const found = new Promise<Record<string, unknown>>((resolve, reject) => {
        waiters.push({ test, resolve });
        void exit.then(() => reject(new Error(`${what}: the process exited first\n${stderr}`)));
      });
      return within(found, STEP_DEADLINE_MS, what);
    },
  };
}

const listening = (s: Server) => s.line((l) => l.msg === 'gatehouse listening', 'the "listening" line');

/** Stops a server the test left running, so a failed assertion cannot leak a process. */
function cleanup(s: Server): void {
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
}

async function refused(env: Record<string, string>) {
  const s = await gatehouse(env);
  try {
    const { code } = await within(s.exit, REFUSAL_DEADLINE_MS, 'a refused start exits');
    return { code, stderr: s.stderr(), server: s };
  } finally {
    cleanup(s);
  }
}

function expectNoStack(expect: ExpectStatic, text: string): void {
  expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
  expect(text).not.toContain('node_modules');
}

describe('gatehouse serve', () => {
  it('serves /healthz with every contract header, then exits 0 on SIGTERM', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const s = await gatehouse({});
    try {
      const { url } = await listening(s);
      expect(url).toBe(`http://127.0.0.1:${s.port}`);
      const res = await fetch(`http://127.0.0.1:${s.port}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
      const h = res.headers;
      expect(h.get('content-type')).toBe('application/json; charset=utf-8');
      expect(h.get('x-content-type-options')).toBe('nosniff');
      expect(h.get('x-frame-options')).toBe('DENY');
      expect(h.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
      expect(h.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(h.get('permissions-policy')).toMatch(/camera=\(\).*microphone=\(\).*geolocation=\(\)/);
      expect(h.get('x-xss-protection')).toBe('0');
      expect(h.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(h.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      expect(h.get('x-powered-by')).toBeNull();
      expect(h.get('server')).toBeNull();
      expect(h.get('strict-transport-security')).toBeNull();
      // Development without SECRET_KEY: a key kept in DATA_DIR, and one warning that says so.
      expect(existsSync(join(s.dataDir, 'secret_key'))).toBe(true);
      expect(s.stdout.filter((l) => String(l.msg).startsWith('SECRET_KEY '))).toHaveLength(1);
      // Every line the process wrote is JSON.
      expect(s.stdout.filter((l) => 'notJson' in l)).toEqual([]);

      s.child.kill('SIGTERM');
      expect(await within(s.exit, SIGTERM_DEADLINE_MS, 'SIGTERM exit')).toEqual({ code: 0, signal: null });
    } finally {
      cleanup(s);
    }
  });

  it('hashes at a lower priority than it answers: the libuv pool (argon2) at nice 10, the event loop at 0', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    // Six pool threads, not the default four: every one of them is found, whatever the pool's size.
    const s = await gatehouse({ UV_THREADPOOL_SIZE: '6' });
    try {
      await listening(s);
      const pid = s.child.pid!;
      const nice = (tid: string) => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        // Field 19 (nice), counted after the parenthesised command name.
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      };
      const priorities = readdirSync(`/proc/${pid}/task`).map((tid) => ({ tid: Number(tid), nice: nice(tid) }));
      expect(priorities.find((t) => t.tid === pid)?.nice).toBe(0);
      expect(priorities.filter((t) => t.nice === 10)).toHaveLength(6);
      // Hashing still works on the lowered threads: a sign-up hashes a password with argon2id.
      const res = await fetch(`http://127.0.0.1:${s.port}/api/v1/auth/register`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'nice@example.com', username: 'nice', password: 'a long enough passphrase' }),
      });
      expect(res.status).toBe(201);
    } finally {
      cleanup(s);
    }
  });

  it('SIGTERM with no traffic exits 0 well inside the drain bound', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const s = await gatehouse({});
    try {
      await listening(s);
      s.child.kill('SIGTERM');
      expect(await within(s.exit, SIGTERM_DEADLINE_MS, 'idle SIGTERM exit')).toEqual({ code: 0, signal: null });
      expect(s.stdout.some((l) => l.signal === 'SIGTERM')).toBe(true);
      // Quickly: it closed by itself, not when the drain timeout gave up on it.
      expect(s.stdout.filter((l) => /drain timed out/.test(String(l.msg)))).toEqual([]);
    } finally {
      cleanup(s);
    }
  });

  it('`npm start` serves, and a SIGTERM to npm drains the server and exits 0, leaving nothing listening', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const s = await gatehouse({}, tempDir(), NPM_START);
    try {
      await listening(s);
      expect((await fetch(`http://127.0.0.1:${s.port}/healthz`)).status).toBe(200);
      s.child.kill('SIGTERM');
      expect(await within(s.exit, SIGTERM_DEADLINE_MS, 'npm exits after SIGTERM')).toEqual({ code: 0, signal: null });
      expect(s.stdout.some((l) => l.signal === 'SIGTERM')).toBe(true);
      // The server went with it: npm's shell did not leave it orphaned and still listening.
      const after = await fetch(`http://127.0.0.1:${s.port}/healthz`).then(() => 'answered', (err: Error) => String((err.cause as { code?: string })?.code));
      expect(after).toBe('ECONNREFUSED');
    } finally {
      cleanup(s);
    }
  });

  it('a SIGTERM during a request lets it finish, then exits 0; what it acknowledged survives a restart', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const dataDir = tempDir();
    const s = await gatehouse({}, dataDir);
    const username = `drain_${randomBytes(4).toString('hex')}`;
    const body = JSON.stringify({ email: `${username}@example.com`, username, password: 'a slow but acknowledged passphrase' });
    try {
      await listening(s);
      // Expect: 100-continue makes the server say when it has the request (headers parsed, handler
      // waiting for the body), so the signal is sent while the request is provably in flight.
      const req = httpRequest({
        host: '127.0.0.1', port: s.port, method: 'POST', path: '/api/v1/auth/register',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
      });
      const response = new Promise<{ res: IncomingMessage; text: string }>((resolve, reject) => {
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('end', () => resolve({ res, text }));
        });
        req.on('error', reject);
      });
      const continued = new Promise<void>((resolve) => req.once('continue', resolve));
      req.flushHeaders();
      await within(continued, STEP_DEADLINE_MS, '100 Continue');
      req.write(body.slice(0, 10));

      s.child.kill('SIGTERM');
      await s.line((l) => l.signal === 'SIGTERM', 'the "draining" line');
      // A repeated signal (npm forwarding its group's, a second Ctrl-C) does not cut the drain short.
      s.child.kill('SIGINT');
      s.child.kill('SIGTERM');
      await s.line((l) => l.msg === 'already draining; signal ignored' && l.signal === 'SIGTERM', 'the repeated signals ignored');
      // Draining: new connections are no longer accepted.
      await expect(fetch(`http://127.0.0.1:${s.port}/healthz`)).rejects.toThrow();

      req.end(body.slice(10));
      const { res, text } = await within(response, SIGTERM_DEADLINE_MS, 'the in-flight response');
      expect(res.statusCode, text).toBe(201);
      expect(JSON.parse(text)).toMatchObject({ username, email: `${username}@example.com` });
      // The drain must not wait for this client to hang up its keep-alive connection.
      expect(res.headers.connection).toBe('close');
      expect(await within(s.exit, SIGTERM_DEADLINE_MS, 'exit after the drain')).toEqual({ code: 0, signal: null });
      expect(s.stdout.filter((l) => /drain timed out/.test(String(l.msg)))).toEqual([]);
    } finally {
      cleanup(s);
    }

    // Same DATA_DIR, new process: the account the first one acknowledged is still there.
    const again = await gatehouse({}, dataDir);
    try {
      await listening(again);
      const res = await fetch(`http://127.0.0.1:${again.port}/api/v1/auth/register`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body,
      });
      expect(res.status).toBe(409);
      again.child.kill('SIGTERM');
      expect((await within(again.exit, SIGTERM_DEADLINE_MS, 'second exit')).code).toBe(0);
    } finally {
      cleanup(again);
    }
  });
});

describe('requests sent just before SIGTERM', () => {
  it('are answered, not cut off: the process was frozen while they arrived, on new connections and on kept-alive ones', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const s = await gatehouse({});
    const open = () => new Promise<Socket>((resolve, reject) => {
      const socket = connectSocket(s.port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
    const collect = (socket: Socket) => {
      let data = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => { data += chunk; });
      socket.on('error', () => undefined);
      return { socket, text: () => data, closed: new Promise<void>((resolve) => socket.once('close', () => resolve())) };
    };
    try {
      await listening(s);
      // Kept alive, with one answered request behind it.
      const kept = collect(await open());
      kept.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await within((async () => { while (!/\{"status":"ok"\}/.test(kept.text())) await new Promise((z) => setTimeout(z, 5)); })(), STEP_DEADLINE_MS, 'the first answer');
      const answeredBefore = kept.text().length;
      // Frozen: new connections wait in the listen backlog, every request arrives whole, then the signal.
      s.child.kill('SIGSTOP');
      const fresh = await Promise.all(Array.from({ length: 6 }, async () => collect(await open())));
      const all = [kept, ...fresh];
      // Each write's callback: its bytes are in the kernel, on the server's side of the socket.
      await Promise.all(all.map((r) => new Promise((written) => r.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', written))));
      s.child.kill('SIGTERM');
      s.child.kill('SIGCONT');
      await within(Promise.all(all.map((r) => r.closed)), SIGTERM_DEADLINE_MS, 'every connection answered and closed');
      expect(kept.text().slice(answeredBefore)).toMatch(/^HTTP\/1\.1 200 /);
      for (const [i, r] of fresh.entries()) expect(r.text(), `new connection ${i}`).toMatch(/^HTTP\/1\.1 200 /);
      expect(await within(s.exit, SIGTERM_DEADLINE_MS, 'exit after the drain')).toEqual({ code: 0, signal: null });
    } finally {
      cleanup(s);
    }
  });
});

describe('SIGTERM while a reset mail talks to a stalled mail server', () => {
  it('exits 0 well within 30 s: the socket nobody waits for any more does not hold the process', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    // Greets, answers EHLO, then never answers MAIL FROM (nodemailer's socket timeout is 30 s).
    const stalled = createNetServer((socket) => {
      socket.write('220 stalled.test ESMTP\r\n');
      socket.on('data', (chunk) => {
        if (/^(EHLO|HELO)/i.test(chunk.toString())) socket.write('250 stalled.test\r\n');
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const s = await gatehouse({ SMTP_URL: `smtp://127.0.0.1:${(stalled.address() as AddressInfo).port}` });
    try {
      await listening(s);
      const base = `http://127.0.0.1:${s.port}/api/v1/auth`;
      const json = { 'content-type': 'application/json' };
      const email = `stalled_${randomBytes(4).toString('hex')}@example.com`;
      expect((await fetch(`${base}/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, username: email.split('@')[0], password: 'a passphrase for a slow mail' }) })).status).toBe(201);
      expect((await fetch(`${base}/password-reset/request`, { method: 'POST', headers: json, body: JSON.stringify({ email }) })).status).toBe(202);
      const signalled = performance.now();
      s.child.kill('SIGTERM');
      expect(await within(s.exit, SIGTERM_DEADLINE_MS, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });
      expect(performance.now() - signalled).toBeLessThan(20_000);
    } finally {
      cleanup(s);
      stalled.close();
    }
  });
});

describe('killed right after a 202 for a password reset', () => {
  it('the mail still goes out: the request was recorded before the answer, and the next start sends it', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const dataDir = tempDir();
    const outbox = join(dataDir, 'outbox');
    const mails = () => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : []);
    // A mail server that accepts the connection and never speaks: the first process's mail is
    // provably still on its way when the process is killed.
    const silent = createNetServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const smtpPort = (silent.address() as AddressInfo).port;
    const first = await gatehouse({ SMTP_URL: `smtp://127.0.0.1:${smtpPort}` }, dataDir);
    const email = `crash_${randomBytes(4).toString('hex')}@example.com`;
    try {
      await listening(first);
      const base = `http://127.0.0.1:${first.port}/api/v1/auth`;
      const json = { 'content-type': 'application/json' };
      const username = email.split('@')[0]!;
      expect((await fetch(`${base}/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, username, password: 'a passphrase to be forgotten' }) })).status).toBe(201);
      const answer = await fetch(`${base}/password-reset/request`, { method: 'POST', headers: json, body: JSON.stringify({ email }) });
      expect(answer.status).toBe(202);
      first.child.kill('SIGKILL');
      await within(first.exit, STEP_DEADLINE_MS, 'the killed process is gone');
    } finally {
      cleanup(first);
      silent.close();
    }

    // The next start on the same data (mail to the outbox now) sends what the first one acknowledged.
    const again = await gatehouse({}, dataDir);
    try {
      await listening(again);
      const sent = await again.line((l) => l.msg === 'password reset mail sent', 'the resumed mail');
      expect(sent.user_id).toEqual(expect.any(Number));
      const files = mails();
      expect(files).toHaveLength(1);
      expect(readFileSync(join(outbox, files[0]!), 'utf8')).toContain(`To: ${email}`);
      again.child.kill('SIGTERM');
      expect((await within(again.exit, SIGTERM_DEADLINE_MS, 'exit')).code).toBe(0);
    } finally {
      cleanup(again);
    }
  });
});

function withDatabase(url: string, database: number): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

describe('a refused start', () => {
  // Each refusal rule is covered line by line in test/unit/config.test.ts; here, that the process obeys it.
  const cases: { name: string; env: Record<string, string>; variable: string }[] = [
    { name: 'PORT=abc', env: { PORT: 'abc' }, variable: 'PORT' },
    { name: 'ACCESS_TOKEN_EXPIRE_MINUTES=-1', env: { ACCESS_TOKEN_EXPIRE_MINUTES: '-1' }, variable: 'ACCESS_TOKEN_EXPIRE_MINUTES' },
    { name: 'production without SECRET_KEY', env: { ENVIRONMENT: 'production', ALLOWED_ORIGINS: 'https://app.example.com' }, variable: 'SECRET_KEY' },
    // Faults found only when start-up acts on a value: each still names the variable behind it.
    { name: 'HOST that does not resolve', env: { HOST: 'nonexistent.invalid' }, variable: 'HOST' },
    { name: 'HOST of another machine', env: { HOST: '192.0.2.1' }, variable: 'HOST' },
    { name: 'DATA_DIR that is a file', env: { DATA_DIR: '/etc/passwd' }, variable: 'DATA_DIR' },
    // Node's recursive mkdir spins forever here; the refusal must still come, within the bound.
    { name: 'DATA_DIR under /proc', env: { DATA_DIR: '/proc/gatehouse-test' }, variable: 'DATA_DIR' },
    // The database elsewhere and the key given: DATA_DIR is still where mail goes without SMTP_URL.
    {
      name: 'DATA_DIR where the mail outbox cannot be made',
      env: { DATA_DIR: '/proc/gatehouse-test', SECRET_KEY: 'M4yVdiRueoCLyKu3R1wFeUbDr6hKVNIvyLRzwrqLGI+ysIkyu2dbF/2bFC4Dvtyc', DATABASE_URL: `sqlite:${join(tmpdir(), `gatehouse-outbox-test-${process.pid}.db`)}` },
      variable: 'DATA_DIR',
    },
    { name: 'DATABASE_URL of another kind of database', env: { DATABASE_URL: 'mysql://db.example/gatehouse' }, variable: 'DATABASE_URL' },
    { name: 'a SQLite DATABASE_URL where no file can be made', env: { DATABASE_URL: 'sqlite:/proc/gatehouse-test/g.db' }, variable: 'DATABASE_URL' },
    // A Redis that answers but has no such database (16 by default): ioredis alone carries on, on database 0.
    ...(redisUrl ? [{ name: 'REDIS_URL naming a database that Redis does not have', env: { REDIS_URL: withDatabase(redisUrl, 999) }, variable: 'REDIS_URL' }] : []),
  ];
  for (const { name, env, variable } of cases) {
    it.concurrent(`${name}: exits non-zero within 20 s with a line naming ${variable}`, { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
      const { code, stderr, server } = await refused(env);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      const lines = stderr.split('\n').filter(Boolean);
      expect(lines.some((l) => new RegExp(`\\b${variable}\\b`).test(l)), stderr).toBe(true);
      expectNoStack(expect, stderr);
      // It never got as far as listening or keeping a development key.
      expect(server.stdout.some((l) => l.msg === 'gatehouse listening')).toBe(false);
      if (env.ENVIRONMENT === 'production') expect(existsSync(join(server.dataDir, 'secret_key'))).toBe(false);
    });
  }

  it.concurrent('SECRET_KEY changed under a stored EdDSA key: refused in one line naming SECRET_KEY; rotate-signing-key is the way on', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const dataDir = tempDir();
    const withKey = (secret: string) => ({ JWT_ALGORITHM: 'EdDSA', SECRET_KEY: secret });
    const first = await gatehouse(withKey(randomBytes(32).toString('hex')), dataDir);
    try {
      await listening(first);
      first.child.kill('SIGTERM');
      expect((await within(first.exit, STEP_DEADLINE_MS, 'the first server exits')).code).toBe(0);
    } finally {
      cleanup(first);
    }
    const changed = withKey(randomBytes(32).toString('hex'));
    const refusedStart = await gatehouse(changed, dataDir);
    try {
      const { code } = await within(refusedStart.exit, REFUSAL_DEADLINE_MS, 'the start with another SECRET_KEY exits');
      expect(code).not.toBe(0);
      const lines = refusedStart.stderr().split('\n').filter(Boolean);
      expect(lines, refusedStart.stderr()).toHaveLength(1);
      expect(lines[0]).toMatch(/SECRET_KEY/);
      expect(lines[0]).toMatch(/rotate-signing-key/);
      expectNoStack(expect, refusedStart.stderr());
    } finally {
      cleanup(refusedStart);
    }
    const rotation = spawn(process.execPath, [BIN, 'rotate-signing-key'], {
      env: { PATH: process.env.PATH ?? '', HOME: dataDir, DATA_DIR: dataDir, ...changed }, cwd: dataDir, stdio: 'ignore',
    });
    expect(await within(new Promise((resolve) => rotation.once('close', resolve)), STEP_DEADLINE_MS, 'the rotation exits')).toBe(0);
    const after = await gatehouse(changed, dataDir);
    try {
      await listening(after);
      const jwks = await (await fetch(`http://127.0.0.1:${after.port}/.well-known/jwks.json`)).json() as { keys: unknown[] };
      // The new key, and the old one still publishing for the tokens it signed.
      expect(jwks.keys).toHaveLength(2);
    } finally {
      after.child.kill('SIGTERM');
      await within(after.exit, STEP_DEADLINE_MS, 'the last server exits').catch(() => undefined);
      cleanup(after);
    }
  });

  it.concurrent('an unreachable database is one line without the connection string or its password', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const { code, stderr } = await refused({ DATABASE_URL: 'postgres://gatehouse:Hunter2-secret@127.0.0.1:1/gatehouse' });
    expect(code).not.toBe(0);
    expect(stderr).not.toContain('Hunter2-secret');
    expect(stderr).toMatch(/DATABASE_URL/);
    expectNoStack(expect, stderr);
  });
});

describe('gatehouse commands never act on arguments they do not take', () => {
  const run = (args: string[], env: Record<string, string>, input = '') => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: dataDir, DATA_DIR: dataDir, ...env }, cwd: dataDir, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });

  it.concurrent('--help shows the usage and does nothing; anything else is refused with exit 2', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const eddsa = { JWT_ALGORITHM: 'EdDSA', SECRET_KEY: randomBytes(32).toString('hex') };
    for (const command of ['serve', 'rotate-signing-key', 'migrate']) {
      const help = await within(run([command, '--help'], eddsa), STEP_DEADLINE_MS, `${command} --help`);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toContain('Usage: gatehouse');
      expect(help.stdout).not.toMatch(/new EdDSA signing key|applied|listening/);
      const typo = await within(run([command, '--dry-run'], eddsa), STEP_DEADLINE_MS, `${command} --dry-run`);
      expect(typo.code).toBe(2);
      expect(typo.stderr).toContain(`gatehouse: ${command} takes no arguments`);
      expect(typo.stdout).toBe('');
    }
  });

  it.concurrent('a database that never answers: migrate and create-admin exit 1 within 20 s with one line naming DATABASE_URL', { timeout: PROCESS_TEST_TIMEOUT_MS }, async ({ expect }) => {
    const silent = createNetServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const env = { DATABASE_URL: `postgres://gatehouse:Hunter2-secret@127.0.0.1:${(silent.address() as AddressInfo).port}/gatehouse` };
      for (const args of [['migrate'], ['create-admin', '--email', 'root@example.com', '--password-stdin']]) {
        const result = await within(run(args, env, 'a long admin passphrase 1\n'), REFUSAL_DEADLINE_MS, args.join(' '));
        expect(result.code, result.stderr).toBe(1);
        const lines = result.stderr.split('\n').filter(Boolean);
        expect(lines, result.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(/DATABASE_URL/);
        expect(result.stderr).not.toContain('Hunter2-secret');
      }
    } finally {
      silent.close();
    }
  });
});
