// The servers under load, each a child process on 127.0.0.1: what they run, how to start one, wait for it, stop it.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A fixed, strong key: the bench never runs in production, but a weak key would only add a warning line. */
const SECRET_KEY = 'M4yVdiRueoCLyKu3R1wFeUbDr6hKVNIvyLRzwrqLGI+ysIkyu2dbF/2bFC4Dvtyc';
/** The limiter runs on every request, but never refuses one: it is measured, not tripped. */
const UNLIMITED = '1000000000/minute';

function gatehouse(title, extraEnv = {}) {
  return {
    title,
    args: [join(ROOT, 'bin', 'gatehouse.cjs'), 'serve'],
    readyPath: '/healthz',
    // A clean environment: nothing from the caller's DATABASE_URL, REDIS_URL or .env leaks in.
    env: (port, dataDir) => ({
      HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, SECRET_KEY, RATE_LIMIT_DEFAULT: UNLIMITED, ...extraEnv,
    }),
  };
}

export const servers = {
  bare: {
    title: 'bare Fastify (no plugins, logger off)',
    args: [join(ROOT, 'bench', 'bare-server.mjs')],
    readyPath: '/bare',
    env: (port) => ({ PORT: String(port) }),
  },
  gatehouse: gatehouse('Gatehouse `serve`, embedded SQLite, development mode, LOG_LEVEL=info'),
  // LOCKOUT_THRESHOLD's ceiling is 1000; right passwords never count towards it anyway.
  'gatehouse-login': gatehouse('Gatehouse `serve` with RATE_LIMIT_AUTH and LOCKOUT_THRESHOLD raised', {
    RATE_LIMIT_AUTH: UNLIMITED, LOCKOUT_THRESHOLD: '1000',
  }),
  // Shared state in Redis: rate limits and revocations go through it (REDIS_URL, or BENCH_REDIS_URL, default local).
  'gatehouse-redis': gatehouse('Gatehouse `serve`, embedded SQLite, REDIS_URL set (limits and revocations in Redis)', {
    REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `bench-${process.pid}-${Date.now()}:`,
  }),
  helmet: {
    title: 'bare Fastify + @fastify/helmet (static CSP)',
    args: [join(ROOT, 'bench', 'headers-server.mjs'), 'helmet'],
    readyPath: '/bare',
    env: (port) => ({ PORT: String(port) }),
  },
  'security-headers': {
    title: 'bare Fastify + Gatehouse securityHeaders ({ hsts: false })',
    args: [join(ROOT, 'bench', 'headers-server.mjs'), 'security-headers'],
    readyPath: '/bare',
    env: (port) => ({ PORT: String(port) }),
  },
};

/** Children still running: if the bench dies half-way, none of them is left behind listening. */
const live = new Set();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A port nobody listens on right now (the OS picks it; the child binds it a moment later). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** One GET; resolves with the status code, or 0 when nothing answers. */
export function probeStatus(port, path) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

/**
 * Spawns a server in a fresh directory and resolves once `readyPath` answers 200, with
 * `startupMs` measured from just before spawn. Output goes to `<dir>/server.log`.
 * A port taken in the moment between `freePort()` and the child's bind is retried with another.
 */
export async function startServer(name, tempRoot, options = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(name, tempRoot, options);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE|port is already in use/.test(err.message)) throw err;
    }
  }
}

async function startOnce(name, tempRoot, { timeoutMs = 60_000, pollMs = 2 }) {
  const def = servers[name];
  if (!def) throw new TypeError(`bench: unknown server "${name}"`);
  const dir = mkdtempSync(join(tempRoot, `${name}-`));
  const port = await freePort();
  const logFile = join(dir, 'server.log');
  const log = openSync(logFile, 'a');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...def.env(port, join(dir, 'data')) };
  const started = performance.now();
  const child = spawn(process.execPath, def.args, { cwd: dir, env, stdio: ['ignore', log, log] });
  closeSync(log);
  live.add(child);
  let exited = null;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => {
    live.delete(child);
    resolve((exited = { code, signal }));
  }));

  for (;;) {
    if (exited) throw new Error(`bench: server "${name}" exited (${exited.code ?? exited.signal}) before it was ready; log:\n${tail(logFile)}`);
    if ((await probeStatus(port, def.readyPath)) === 200) break;
    if (performance.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`bench: server "${name}" not ready within ${timeoutMs} ms; log:\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const startupMs = performance.now() - started;

  return {
    name, port, pid: child.pid, logFile, startupMs, url: `http://127.0.0.1:${port}`,
    /** SIGTERM (Gatehouse drains), SIGKILL after 10 s. */
    async stop() {
      if (exited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const result = await exit;
      clearTimeout(timer);
      return result;
    },
  };
}

function tail(file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
