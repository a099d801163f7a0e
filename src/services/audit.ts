// The audit trail: every security event the contract names, stored in the database and written to
// the log. Never a password, token or key: callers pass only ids and small non-secret details.
import type { AuditEvent, AuditQuery, AuditRepository } from '../storage/repositories/audit.js';
import type { Logger, RequestContext } from './context.js';

export const AUDIT_ACTIONS = [
  'login.success', 'login.failure', 'logout', 'token.refresh_reuse', 'password.change', 'password.reset',
  'mfa.enable', 'mfa.disable', 'apikey.create', 'apikey.revoke', 'user.role_change', 'user.deactivate', 'lockout',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export type AuditOutcome = 'success' | 'failure' | 'blocked';

export interface AuditEntry {
  readonly userId: number | null;
  readonly outcome: AuditOutcome;
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

export class AuditLog {
  constructor(
    private readonly repo: AuditRepository,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** Stores the event; a database failure propagates (the request fails with 503, never silently). */
  async record(action: AuditAction, ctx: RequestContext, entry: AuditEntry): Promise<void> {
    (await this.stage(this.repo, action, ctx, entry))();
  }

  /**
   * Stores the event through `repo` — a transaction's, so the event commits with the change it
   * describes, or neither does — and returns the writer of its log line, for once that commits.
   */
  async stage(repo: AuditRepository, action: AuditAction, ctx: RequestContext, entry: AuditEntry): Promise<() => void> {
    const time = this.now();
    const event = await repo.insert({
      time, action, userId: entry.userId, ip: ctx.ip, userAgent: ctx.userAgent,
      requestId: ctx.requestId, outcome: entry.outcome, details: entry.details ?? null,
    });
    // The same fields as the stored event (the contract's list), then its details; details never override them.
    return () => this.log.info({
      audit: {
        ...entry.details, id: event.id, time: new Date(time).toISOString(), action, user_id: entry.userId, ip: ctx.ip,
        user_agent: ctx.userAgent, request_id: ctx.requestId, outcome: entry.outcome,
      },
    }, `audit ${action}`);
  }

  /** Newest first, with optional user and action filters. */
  list(query: AuditQuery): Promise<{ events: AuditEvent[]; total: number }> {
    return this.repo.list(query);
  }
}
