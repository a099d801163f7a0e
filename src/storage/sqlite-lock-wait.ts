// Waiting for another process's SQLite write lock without stopping the event loop.
//
// SQLite's busy_timeout waits inside the driver call, synchronously: while a backup, the CLI or a
// second process held the write lock, each write stopped the whole process for the full timeout
// (health checks and every other request with it), and the waits of queued writes stacked up. So
// busy_timeout is 0 and a statement refused with SQLITE_BUSY is tried again after a short pause on
// a timer. Once the lock has been held against us for LOCK_WAIT_MS without a write getting through,
// every write fails at once (a 503) until one succeeds: requests queued behind do not each wait again.
import { CompiledQuery, SqliteDialect, type DatabaseConnection, type Driver, type QueryResult, type TransactionSettings } from 'kysely';

/** Contract: within 2 s of the database going away, requests that need it answer 503. */
export const LOCK_WAIT_MS = 1500;
const PAUSES_MS = [1, 2, 5, 10, 20, 50, 100];
const WRITES = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode']);

export function isBusy(err: unknown): boolean {
  return /^SQLITE_BUSY/.test(String((err as { code?: unknown })?.code ?? ''));
}

/** How long the write lock has been out of reach; shared by the driver and the readiness probe. */
export class LockWait {
  private since: number | undefined;

  /** True once another process has held the write lock against us for LOCK_WAIT_MS. */
  get stuck(): boolean {
    return this.since !== undefined && performance.now() - this.since >= LOCK_WAIT_MS;
  }

  refused(): void {
    this.since ??= performance.now();
  }

  gotThrough(): void {
    this.since = undefined;
  }

  /** Runs `attempt`, again after a pause while it meets SQLITE_BUSY, until the wait is used up. */
  async run<T>(attempt: () => Promise<T>, isWrite: boolean): Promise<T> {
    for (let tries = 0; ; tries += 1) {
      try {
        const result = await attempt();
        // Reads succeed under another writer's lock (WAL): only a write proves the lock came back.
        if (isWrite) this.gotThrough();
        return result;
      } catch (err) {
        if (!isBusy(err)) throw err;
        // Only writes tell whether the lock is out of reach (a read's BUSY is a passing checkpoint).
        if (isWrite) this.refused();
        if (this.stuck || (!isWrite && tries >= PAUSES_MS.length)) throw err;
        await new Promise((resolve) => setTimeout(resolve, PAUSES_MS[Math.min(tries, PAUSES_MS.length - 1)]));
      }
    }
  }
}

function isWriteQuery(query: CompiledQuery): boolean {
  return WRITES.has(query.query?.kind ?? '') || /^\s*begin\s+immediate/i.test(query.sql);
}

class LockWaitingConnection implements DatabaseConnection {
  constructor(private readonly inner: DatabaseConnection, private readonly wait: LockWait) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.wait.run(() => this.inner.executeQuery<R>(query), isWriteQuery(query));
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class LockWaitingDriver implements Driver {
  private readonly connections = new WeakMap<DatabaseConnection, LockWaitingConnection>();

  constructor(private readonly inner: Driver, private readonly wait: LockWait) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.inner.acquireConnection();
    let wrapped = this.connections.get(connection);
    if (!wrapped) this.connections.set(connection, (wrapped = new LockWaitingConnection(connection, this.wait)));
    return wrapped;
  }

  /**
   * `begin immediate`: the write lock is taken (and waited for) when the transaction starts. A
   * deferred `begin` that read first could only fail later, at its first write, with a stale
   * snapshot that no retry of the statement can mend (SQLITE_BUSY_SNAPSHOT).
   */
  async beginTransaction(connection: DatabaseConnection, _settings: TransactionSettings): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  savepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['savepoint']>>[2]): Promise<void> {
    return this.inner.savepoint!(connection, name, compile);
  }

  rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['rollbackToSavepoint']>>[2]): Promise<void> {
    return this.inner.rollbackToSavepoint!(connection, name, compile);
  }

  releaseSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['releaseSavepoint']>>[2]): Promise<void> {
    return this.inner.releaseSavepoint!(connection, name, compile);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(connection);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** Kysely's SQLite dialect, with writes that wait for another process's lock on a timer. */
export class LockWaitingSqliteDialect extends SqliteDialect {
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0], private readonly wait: LockWait) {
    super(config);
  }

  override createDriver(): Driver {
    return new LockWaitingDriver(super.createDriver(), this.wait);
  }
}
