// Runs pending migrations. Safe to run twice, and by two processes at once: PostgreSQL
// serialises runners with an advisory lock. SQLite: Kysely runs SQLite migrations outside any
// transaction (its adapter claims no transactional DDL), so two processes could both see an empty
// history and both apply 001. We hold the database's write lock (BEGIN IMMEDIATE) for the whole run
// instead: the second runner waits, then finds everything applied. A failed migration rolls back.
import { Migrator, sql, type MigrationResultSet, type QueryExecutorProvider } from 'kysely';
import type { DatabaseHandle } from './database.js';
import { migrations } from './migrations/index.js';

// Any constant works; it only has to be the same for every Gatehouse process.
const ADVISORY_LOCK_KEY = 0x6761_7465; // "gate"

export interface MigrationReport {
  readonly applied: readonly string[];
}

function check(result: MigrationResultSet): MigrationReport {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`migration ${failed ?? '(setup)'} failed: ${(result.error as Error).message ?? result.error}`, { cause: result.error });
  }
  return { applied: (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** How long a start waits for another runner's migration lock: a refused start exits within 20 s (contract). */
const LOCK_WAIT_MS = 15_000;
const LOCK_POLL_MS = 100;

/**
 * Takes the migration lock, polling: `pg_advisory_lock` would wait without end on a runner that
 * hangs (a stuck migration elsewhere), and the start would neither listen nor exit.
 */
async function takeMigrationLock(conn: QueryExecutorProvider, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${ADVISORY_LOCK_KEY}) as locked`.execute(conn);
    if (rows[0]?.locked) return;
    if (Date.now() >= deadline) {
      throw new Error(`another process has held the migration lock for ${Math.round(waitMs / 1000)} s (a migration still running or stuck); try again once it ends`);
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

export async function migrateToLatest(handle: DatabaseHandle, { lockWaitMs = LOCK_WAIT_MS } = {}): Promise<MigrationReport> {
  const provider = { getMigrations: async () => migrations(handle.dialect) };
  if (handle.dialect === 'postgres') {
    return handle.db.connection().execute(async (conn) => {
      await takeMigrationLock(conn, lockWaitMs);
      try {
        // Name the schema: unqualified, Kysely takes a kysely_migration table in *any* schema of the
        // database as ours and then fails to find it on the search_path.
        const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(conn);
        const migrationTableSchema = rows[0]?.schema ?? undefined;
        return check(await new Migrator({ db: conn, provider, migrationTableSchema }).migrateToLatest());
      } finally {
        await sql`select pg_advisory_unlock(${ADVISORY_LOCK_KEY})`.execute(conn);
      }
    });
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await handle.db.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn);
        try {
          const report = check(await new Migrator({ db: conn, provider }).migrateToLatest());
          await sql`commit`.execute(conn);
          return report;
        } catch (err) {
          await sql`rollback`.execute(conn).catch(() => undefined);
          throw err;
        }
      });
    } catch (err) {
      // busy_timeout already waited 3 s for the other runner; a slow disk may need longer.
      if (!isBusy(err) || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}
