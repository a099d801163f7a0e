// Storage faults, classified once: a duplicate on a unique index, or the database not answering.
import { HttpError, ServiceUnavailableError } from '../errors/http-error.js';

/** A unique index refused a row; `field` names the column the index guards. */
export class UniqueViolationError extends Error {
  override readonly name = 'UniqueViolationError';
  constructor(readonly field: string, cause?: unknown) {
    super(`duplicate ${field}`, { cause });
  }
}

const UNIQUE_FIELDS = ['username', 'email', 'prefix', 'token_hash', 'subject'];

export function asUniqueViolation(err: unknown): UniqueViolationError | undefined {
  const e = err as { code?: string; constraint?: string; message?: string };
  const isUnique = e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  if (!isUnique) return undefined;
  const where = `${e.constraint ?? ''} ${e.message ?? ''}`;
  const field = UNIQUE_FIELDS.find((f) => where.includes(f)) ?? 'value';
  return new UniqueViolationError(field, err);
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY|CORRUPT|NOTADB)/;

/** True when `err` means "the database is not answering" rather than "this query is wrong". */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string; name?: string };
  // Node's "client hung up mid-body" shares the code of a reset database link: not an outage.
  if (e?.code === 'ECONNRESET' && e.message === 'aborted') return false;
  if (typeof e?.code === 'string') {
    if (NETWORK_CODES.has(e.code) || SQLITE_UNAVAILABLE.test(e.code)) return true;
    // PostgreSQL classes 08 (connection exception), 53 (insufficient resources), 57P (operator intervention);
    // and what a new connection meets when the database was switched off under the app: 3D000 (it was
    // dropped), 28xxx (the role may no longer log in), 55000 (it accepts no connections). None of these
    // comes from a fault in one of our queries. 57014 is our statement_timeout cancelling a statement
    // that waited too long (a lock held by a stuck transaction, an overloaded server): it races the
    // client's own query timeout ("Query read timeout", below), and both are the same outage.
    if (/^(08|53|57P|57014|3D000|28|55000)/.test(e.code)) return true;
  }
  const message = e?.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connect ECONNREFUSED|Client has encountered a connection error|database is closed|driver has already been destroyed/i.test(message);
}

/**
 * PostgreSQL refusing text it cannot store: 22021 (invalid byte sequence: a NUL) and 22P05
 * (untranslatable character). Only a client's input carries such text; every route's schema refuses
 * it first, and this is the backstop for one that reads its input without one.
 */
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05']);

/** Rethrows database outages as a 503 and text the database cannot store as a 400; anything else unchanged. */
export function classifyDatabaseError(err: unknown): unknown {
  if (isDatabaseUnavailable(err)) return new ServiceUnavailableError('database', err);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNSTORABLE_TEXT_CODES.has(code) ? new HttpError('UNSTORABLE_TEXT', { cause: err }) : err;
}
