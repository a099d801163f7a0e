// Opens the database named by DATABASE_URL: SQLite (WAL, foreign keys on) or PostgreSQL (a pool
// with short timeouts so an outage becomes a quick 503, never a hang).
import { chmodSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, sql, type CompiledQuery, type DatabaseIntrospector, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { isDatabaseUnavailable } from './errors.js';
import { LockWait, LockWaitingSqliteDialect } from './sqlite-lock-wait.js';
import type { Database } from './schema.js';
import { CurrentSchemaIntrospector } from './schema-introspector.js';
import { makeDirectory } from '../config/make-directory.js';
import { sqliteFileOf } from '../config/index.js';

export type Dialect = 'sqlite' | 'postgres';

// Each driver loads only when its dialect is used: start-up stays short (docs/benchmarks.md).
const require = createRequire(import.meta.url);
const loadSqlite = (): typeof SqliteDatabase => require('better-sqlite3') as typeof SqliteDatabase;
const loadPg = (): typeof pg => require('pg') as typeof pg;

/** Runs an already-compiled read with new parameters and returns its rows. */
export type CompiledReader = <R>(query: CompiledQuery<R>, parameters: readonly unknown[]) => Promise<R[]>;

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /**
   * The hot reads (one per authenticated request). SQLite: straight on the cached native statement,
   * skipping the async driver layers that cost more than the query itself (docs/benchmarks.md);
   * PostgreSQL: through Kysely. Outside transactions only.
   */
  readonly readCompiled: CompiledReader;
  /** Resolves when the database answers a trivial query within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL only: the schema to use (tests get a fresh one per file). */
  readonly schema?: string;
  /** Called when an idle pooled connection fails (the pool replaces it by itself). */
  readonly onBackgroundError?: (err: Error) => void;
  /**
   * PostgreSQL only. 'request' (default): 3 s per query, so an outage is a quick 503. 'none': for
   * migrations, which may legitimately wait on another process's migration lock or run long DDL.
   */
  readonly queryTimeouts?: 'request' | 'none';
}

export function dialectOf(url: string): Dialect {
  return url.startsWith('sqlite:') ? 'sqlite' : 'postgres';
}

function sqliteFile(url: string): string {
  const path = sqliteFileOf(url) ?? '';
  return path === ':memory:' ? path : resolve(path);
}

export function openDatabase(url: string, options: OpenOptions = {}): DatabaseHandle {
  return dialectOf(url) === 'sqlite' ? openSqlite(url, options) : openPostgres(url, options);
}

function openSqlite(url: string, options: OpenOptions): DatabaseHandle {
  const file = sqliteFile(url);
  if (file !== ':memory:') makeDirectory(dirname(file));
  const native = new (loadSqlite())(file);
  // The file holds password hashes and encrypted secrets: owner only (WAL/SHM files inherit the mode).
  if (file !== ':memory:') chmodSync(file, 0o600);
  native.pragma('journal_mode = WAL');
  native.pragma('foreign_keys = ON');
  // Another process (a second instance, the CLI, a backup) may hold the write lock: waited for on a
  // timer by the dialect (sqlite-lock-wait.ts), never inside the driver call, which would stop the event loop.
  native.pragma('busy_timeout = 0');
  native.pragma('synchronous = NORMAL');
  const watch = file === ':memory:' ? undefined : watchFile(file, options.onBackgroundError);
  const statements = withStatementCache(native, watch);
  const lockWait = new LockWait();
  const db = new Kysely<Database>({ dialect: new LockWaitingSqliteDialect({ database: statements }, lockWait) });
  const readCompiled: CompiledReader = async <R>(query: CompiledQuery<R>, parameters: readonly unknown[]) =>
    statements.prepare(query.sql).all(...parameters) as R[];
  return {
    db,
    dialect: 'sqlite',
    readCompiled,
    async ping() {
      try {
        if (watch?.gone()) return false;
        native.prepare('select 1').get();
        // Reads go on under another process's write lock (WAL): whether a write could get through is
        // what says the database answers. Our own open transaction holds the lock itself.
        await lockWait.run(async () => {
          if (native.inTransaction) return;
          native.exec('begin immediate');
          native.exec('rollback');
        }, true);
        return true;
      } catch {
        return false;
      }
    },
    close: () => {
      watch?.stop();
      return db.destroy();
    },
  };
}

/** How often the database file is looked for at its path: an outage must show within 2 s (CONTRACT, Operations). */
const FILE_WATCH_MS = 500;

interface FileWatch {
  /** True while the file at the path is not the one opened (deleted, moved away, replaced). */
  gone(): boolean;
  stop(): void;
}

/**
 * SQLite keeps writing to a file that was deleted or moved away while open: every write would be
 * acknowledged and lost at the next start. So the path is checked on a timer, and while it does not
 * hold the opened file (same device and inode) the database counts as gone: /readyz and every query
 * answer 503. Moved back, it serves again; a different file put there (a restored backup) is not
 * written to by this process: it needs a restart, which the log says.
 */
function watchFile(file: string, onGone?: (err: Error) => void): FileWatch {
  const opened = statSync(file);
  const sameFile = (): boolean => {
    try {
      const now = statSync(file);
      return now.ino === opened.ino && now.dev === opened.dev;
    } catch {
      return false;
    }
  };
  let missing = false;
  const timer = setInterval(() => {
    const was = missing;
    missing = !sameFile();
    if (missing && !was) onGone?.(new Error('the database file is gone from its path (deleted, moved or replaced): every request that needs it answers 503 until it is back, or until a restart opens what is there'));
  }, FILE_WATCH_MS);
  timer.unref();
  return {
    gone: () => missing,
    stop: () => clearInterval(timer),
  };
}

/** What a query meets while the database file is gone: an outage (SQLITE_CANTOPEN), a 503. */
function fileGoneError(): Error {
  return Object.assign(new Error('the database file is no longer at its path'), { code: 'SQLITE_CANTOPEN' });
}

/**
 * Kysely prepares every query afresh; preparing costs more than running a small query
 * (docs/benchmarks.md). The repositories' SQL is a small fixed set, so each text is prepared once.
 * Safe because Kysely runs statements to completion (`all`/`run`) on one connection in turn.
 */
function withStatementCache(native: SqliteDatabase.Database, watch?: FileWatch, limit = 500): SqliteDatabase.Database {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return new Proxy(native, {
    get(target, property, receiver) {
      if (property !== 'prepare') return Reflect.get(target, property, receiver);
      return (sql: string) => {
        // Every query (Kysely's and the compiled reads) is prepared here first.
        if (watch?.gone()) throw fileGoneError();
        let statement = cache.get(sql);
        if (!statement) {
          statement = target.prepare(sql);
          // Bounded: a query text built from varying input would otherwise grow the cache forever.
          if (cache.size >= limit) cache.delete(cache.keys().next().value!);
          cache.set(sql, statement);
        }
        return statement;
      };
    },
  });
}

/**
 * The pool as Kysely sees it. pg reports a broken socket as an 'error' event on the client, and
 * pg-pool listens only while the client is idle: on a checked-out one (mid-request, mid-transaction)
 * that event goes unheard and crashes the process. And a client whose query timed out still waits for
 * an answer that may never come (a black-holed connection): handed back as healthy, it fails every
 * later query too. So each checkout listens, and a client that failed for connection reasons is
 * destroyed on release instead of reused.
 */
function guardedPool(pool: pg.Pool): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      let broken: Error | undefined;
      const onError = (err: Error) => {
        broken = err;
      };
      client.on('error', onError);
      const query = (text: string, values: readonly unknown[]) =>
        client.query(text, [...values]).catch((err: unknown) => {
          if (isDatabaseUnavailable(err)) broken = err as Error;
          throw err;
        });
      return {
        query: query as unknown as PostgresPoolClient['query'],
        release(destroy?: boolean) {
          client.off('error', onError);
          client.release(broken ?? destroy);
        },
      };
    },
    end: () => pool.end(),
  };
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** PostgreSQL with an introspector that looks at Gatehouse's schema alone (schema-introspector.ts). */
class GatehousePostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db);
  }
}

function openPostgres(url: string, options: OpenOptions): DatabaseHandle {
  const pg = loadPg();
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // An unreachable server must turn into a 503 well inside the contract's 5 s.
    connectionTimeoutMillis: 2000,
    ...(options.queryTimeouts === 'none' ? {} : { query_timeout: 3000, statement_timeout: 3000 }),
    // Short, so connections that went silent in an outage and were never touched again (a firewall or
    // NAT forgot them: no RST ever comes) leave the pool soon after, not one slow request at a time.
    idleTimeoutMillis: 5_000,
    keepAlive: true,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    types: {
      // Epoch-millisecond BIGINTs and counts come back as numbers (all stay below 2^53).
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID || oid === NUMERIC_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', (err) => options.onBackgroundError?.(err));
  const db = new Kysely<Database>({ dialect: new GatehousePostgresDialect({ pool: guardedPool(pool) }) });
  return {
    db,
    dialect: 'postgres',
    readCompiled: async (query, parameters) => (await db.executeQuery({ ...query, parameters })).rows as never,
    async ping(timeoutMs = 1500) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('ping timeout')), timeoutMs);
        });
        await Promise.race([sql`select 1`.execute(db), timeout]);
        return true;
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => db.destroy(),
  };
}
