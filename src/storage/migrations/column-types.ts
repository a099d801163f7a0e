// The column types every migration shares, per dialect.
import type { ColumnDefinitionBuilder } from 'kysely';
import type { Dialect } from '../database.js';

export function columnTypes(dialect: Dialect) {
  return {
    // BIGINT for epoch-millisecond times on PostgreSQL (INTEGER is 64-bit in SQLite already).
    time: dialect === 'postgres' ? 'bigint' : 'integer',
    serial: dialect === 'postgres' ? 'bigserial' : 'integer',
    /** The generated integer primary key: a bigserial, or SQLite's AUTOINCREMENT rowid. */
    generatedKey: (c: ColumnDefinitionBuilder) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()),
  } as const;
}
