// A read that runs on every authenticated request: its query is built and compiled once, then run
// with new parameters (on SQLite through the handle's native fast path, see database.ts).
import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import type { CompiledReader } from '../database.js';
import type { Database } from '../schema.js';

export class PreparedRead<R> {
  private compiled: CompiledQuery<R> | undefined;

  /** `build` must take its parameters, in order, as the `parameters` later passed to `rows`. */
  constructor(private readonly build: () => Compilable<R>) {}

  async rows(db: Kysely<Database>, read: CompiledReader | undefined, parameters: readonly unknown[]): Promise<R[]> {
    this.compiled ??= this.build().compile();
    if (read) return read(this.compiled, parameters);
    return (await db.executeQuery<R>({ ...this.compiled, parameters })).rows;
  }
}
