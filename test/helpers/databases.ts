// Real databases for tests: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. Every call
// gives a fresh, migrated database (a new in-memory SQLite, or a new PostgreSQL schema that is
// dropped on close), so test files never share state.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStorage, type Storage } from '../../src/storage/index.js';

export interface DatabaseTarget {
  readonly name: 'sqlite' | 'postgres';
  /** The URL the app would be configured with (PostgreSQL: plus the schema from `open`). */
  readonly available: boolean;
  open(): Promise<TestStorage>;
}

export interface TestStorage extends Storage {
  /** DATABASE_URL-equivalent for a second process (PostgreSQL: includes the schema as search_path). */
  readonly url: string;
  readonly schema?: string;
}

const pgUrl = process.env.TEST_DATABASE_URL;

/** Runs `work` on a short-lived client of the test PostgreSQL server (schemas, triggers, inspection). */
export async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function openSqlite(): Promise<TestStorage> {
  const storage = await openStorage('sqlite::memory:');
  return Object.assign(storage, { url: 'sqlite::memory:' });
}

/** A fresh schema in the test PostgreSQL database. */
export async function openPostgres(): Promise<TestStorage> {
  if (!pgUrl) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`create schema ${schema}`));
  const storage = await openStorage(pgUrl, { schema });
  const close = storage.close;
  const url = `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return Object.assign(storage, {
    url,
    schema,
    async close() {
      await close();
      await withAdmin((c) => c.query(`drop schema if exists ${schema} cascade`));
    },
  });
}

export const databaseTargets: readonly DatabaseTarget[] = [
  { name: 'sqlite', available: true, open: openSqlite },
  { name: 'postgres', available: Boolean(pgUrl), open: openPostgres },
];

if (!pgUrl) process.stderr.write('!!! TEST_DATABASE_URL unset: PostgreSQL storage variants SKIPPED in this file !!!\n');
