// What Kysely's Migrator asks PostgreSQL before migrating ("does kysely_migration exist?"),
// answered for Gatehouse's own schema only.
//
// Why: Kysely's stock introspector lists every column of every table in every schema of the
// database, calling has_schema_privilege() and pg_get_serial_sequence() on each by *name*. When
// another schema of the same database is dropped while that query runs (another application's
// deploy, or the test suite's parallel files), the name no longer resolves and the query fails:
// "schema … does not exist", and Gatehouse would refuse to start. This one reads the catalogue by
// oid, for the current schema, without columns (the Migrator only needs table names).
import { sql, type DatabaseIntrospector, type DatabaseMetadata, type Kysely, type SchemaMetadata, type TableMetadata } from 'kysely';

export class CurrentSchemaIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<unknown>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string | null }>`select current_schema() as name`.execute(this.db);
    return rows.flatMap((r) => (r.name ? [{ name: r.name }] : []));
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; kind: string }>`
      select c.relname as name, n.nspname as schema, c.relkind as kind
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p', 'v', 'm')
      order by c.relname`.execute(this.db);
    return rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.kind === 'v' || r.kind === 'm', columns: [] }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}
