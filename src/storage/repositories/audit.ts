// Audit events: append-only; the only SQL for audit_events.
import type { Kysely } from 'kysely';
import type { AuditEventRow, Database } from '../schema.js';

export interface AuditEvent {
  readonly id: number;
  readonly time: number;
  readonly action: string;
  readonly userId: number | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  readonly outcome: string;
  readonly details: Readonly<Record<string, unknown>> | null;
}

export type NewAuditEvent = Omit<AuditEvent, 'id'>;

export interface AuditQuery {
  readonly limit: number;
  readonly offset: number;
  readonly userId?: number;
  readonly action?: string;
}

function toEvent(row: AuditEventRow): AuditEvent {
  return {
    id: Number(row.id),
    time: Number(row.time),
    action: row.action,
    userId: row.user_id === null ? null : Number(row.user_id),
    ip: row.ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    outcome: row.outcome,
    details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
  };
}

export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(event: NewAuditEvent): Promise<AuditEvent> {
    const row = await this.db.insertInto('audit_events').values({
      time: event.time,
      action: event.action,
      user_id: event.userId,
      ip: event.ip,
      user_agent: event.userAgent?.slice(0, 512) ?? null,
      request_id: event.requestId,
      outcome: event.outcome,
      details: event.details ? JSON.stringify(event.details) : null,
    }).returningAll().executeTakeFirstOrThrow();
    return toEvent(row);
  }

  /** Events of known users with one of these actions from `since` on, oldest first, refusals left out (rebuilding state from the record). */
  async ofUsersSince(since: number, actions: readonly string[]): Promise<AuditEvent[]> {
    const rows = await this.db.selectFrom('audit_events').selectAll()
      // Refusals while locked (`blocked`, one per 429 of an attack) change no count: not read (the locks themselves are).
      .where('time', '>=', since).where('action', 'in', [...actions]).where('user_id', 'is not', null)
      .where((eb) => eb.or([eb('outcome', '<>', 'blocked'), eb('action', '=', 'lockout')]))
      .orderBy('id').execute();
    return rows.map(toEvent);
  }

  /** Newest first (by id, which follows insertion order), with optional filters. */
  async list(query: AuditQuery): Promise<{ events: AuditEvent[]; total: number }> {
    let base = this.db.selectFrom('audit_events');
    if (query.userId !== undefined) base = base.where('user_id', '=', query.userId);
    if (query.action !== undefined) base = base.where('action', '=', query.action);
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('id', 'desc').limit(query.limit).offset(query.offset).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { events: rows.map(toEvent), total: Number(count.n) };
  }
}
