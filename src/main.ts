// serve: load config, open and migrate storage, listen, and drain on SIGTERM.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { GatehouseApp } from './app.js';
import { ConfigError, loadConfig, type Env } from './config/index.js';
import { outboxDirectory, prepareOutbox } from './mail/outbox-directory.js';

/** How long SIGTERM waits for in-flight requests before closing what is left. */
const DRAIN_TIMEOUT_MS = 25_000;
/** How long after SIGTERM requests already sent are still read before the drain begins. */
const SIGNAL_GRACE_MS = 100;

export interface Running {
  readonly app: GatehouseApp;
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the server; throws ConfigError (or a storage error) when it must not start. */
export async function startServer(env: Env): Promise<Running> {
  const { config, warnings } = loadConfig(env);
  // Without SMTP_URL every mail is a file in DATA_DIR/outbox: a directory that cannot be written
  // would lose each reset mail after its 202, so the start is refused instead (before anything loads).
  if (!config.smtpUrl) {
    try {
      prepareOutbox(outboxDirectory(config.dataDir));
    } catch (err) {
      throw new StartupFault('DATA_DIR (the mail outbox, while SMTP_URL is unset)', err);
    }
  }
  // The app, storage drivers and services load only after the configuration passed: a refused
  // start reads the config code alone and exits in a fraction of a second.
  const [{ buildApp }, { openStorage }, { ensureFirstSuperuser }] = await Promise.all([
    import('./app.js'), import('./storage/index.js'), import('./services/bootstrap.js'),
  ]);
  // Which variable to check, for the one line a failed start prints.
  const storageVariable = env.DATABASE_URL ? 'DATABASE_URL' : 'DATA_DIR';
  // Faults found off any request (a pooled PostgreSQL connection lost, the SQLite file gone from its
  // path) go to the app's log, which exists once the app does.
  let reportBackground: ((err: Error) => void) | undefined;
  const storage = await openStorage(config.databaseUrl, { onBackgroundError: (err) => reportBackground?.(err) }).catch((err: unknown) => {
    throw new StartupFault(storageVariable, err);
  });
  let app: GatehouseApp;
  try {
    app = await buildApp(config, { storage });
  } catch (err) {
    await storage.close();
    throw err;
  }
  reportBackground = (err) => app.log.warn({ err: err.message }, 'database connection error');
  app.addHook('onClose', () => storage.close());
  for (const warning of warnings) app.log.warn(warning);
  try {
    const admin = await ensureFirstSuperuser(storage, app.gatehouse.users, config.firstSuperuser, config.firstSuperuserPassword);
    if (admin) app.log.info({ user_id: admin.id, username: admin.username }, 'created the first administrator from FIRST_SUPERUSER');
  } catch (err) {
    await app.close();
    throw err;
  }
  const beginDrain = closeConnectionsAfterInFlight(app.server);
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close();
    throw new StartupFault(`HOST and PORT (${config.host}:${config.port})`, err);
  }
  app.log.info({ url, environment: config.environment, database: storage.handle.dialect }, 'gatehouse listening');
  return {
    app, url,
    stop: () => {
      beginDrain();
      return app.close();
    },
  };
}

/**
 * A request still running at SIGTERM finishes on a keep-alive connection that is not idle when
 * the server starts closing, so `close()` would wait for the client to hang up (or the drain
 * timeout). Returns the function that, at drain time, makes each in-flight response close its
 * connection once it is done: `Connection: close` if its headers are not out yet, else a close of
 * the then-idle connection.
 */
function closeConnectionsAfterInFlight(server: Server): () => void {
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    // One arriving during the drain is answered with Connection: close (plugins/close-while-draining.ts).
    if (draining) return;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  return () => {
    draining = true;
    for (const res of inFlight) {
      if (!res.headersSent) res.shouldKeepAlive = false;
      else res.once('finish', () => server.closeIdleConnections());
    }
  };
}

/** `gatehouse serve`: exit code 0 after a clean drain, 1 when start-up is refused. */
export async function serve(env: Env): Promise<number> {
  let running: Running;
  try {
    running = await startServer(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines) process.stderr.write(`gatehouse: ${line}\n`);
    } else if (err instanceof (await import('./services/bootstrap.js')).BootstrapError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
    } else {
      process.stderr.write(`gatehouse: cannot start: ${describeStartError(err)}\n`);
    }
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      // A repeated signal (npm forwarding the group's, a second Ctrl-C) must not fall through to
      // Node's default handler, which would kill the process mid-drain; the drain has its own timeout.
      if (stopping) {
        running.app.log.info({ signal }, 'already draining; signal ignored');
        return;
      }
      stopping = true;
      // A request its client finished sending just before the signal may still sit unread in its
      // socket (the loop was busy): such a connection looks idle, and closing idle connections would
      // cut it off unanswered. A moment and one more poll first, so it is read and then drained.
      await new Promise((r) => setTimeout(r, SIGNAL_GRACE_MS));
      await new Promise((r) => setImmediate(r));
      running.app.log.info({ signal }, 'draining in-flight requests');
      const force = setTimeout(() => {
        running.app.log.warn('drain timed out; closing remaining connections');
        running.app.server.closeAllConnections();
      }, DRAIN_TIMEOUT_MS);
      force.unref();
      running.stop().then(
        () => resolve(0),
        (err) => {
          running.app.log.error({ err }, 'error while stopping');
          resolve(0);
        },
      ).finally(() => clearTimeout(force));
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}

/** A start-up step that failed, and the variable that chose what it worked on. */
export class StartupFault extends Error {
  override readonly name = 'StartupFault';
  constructor(readonly variable: string, override readonly cause: unknown) {
    super(describeCause(cause));
  }
}

/** A start-up failure in one line, naming the variable to check, without connection strings or other secrets. */
export function describeStartError(err: unknown): string {
  return err instanceof StartupFault ? `${err.variable}: ${err.message}` : describeCause(err);
}

function describeCause(err: unknown): string {
  const e = err as { code?: string; message?: string; path?: string };
  if (e?.code === 'EADDRNOTAVAIL') return 'this machine has no such address to listen on';
  if (e?.code === 'ENOTFOUND') return 'the host name does not resolve';
  if (e?.code === 'ENOTDIR' || e?.code === 'EROFS' || (e?.code === 'ENOENT' && e.path)) return `cannot create or open ${e.path ?? 'a file'} (${e.code})`;
  if (e?.code === 'EADDRINUSE') return 'the port is already in use (set PORT)';
  if (e?.code === 'EACCES') return 'permission denied opening the port or data directory';
  if (e?.code === 'ECONNREFUSED' || /ECONNREFUSED|timeout exceeded when trying to connect|Connection terminated due to connection timeout|getaddrinfo/.test(e?.message ?? '')) {
    return 'the database does not answer (check DATABASE_URL)';
  }
  if (/password authentication failed|does not exist/.test(e?.message ?? '')) return 'the database refused the connection (check DATABASE_URL)';
  return (e?.message ?? String(err)).replace(/\w+:\/\/[^\s]+/g, '[url]').split('\n')[0]!;
}
