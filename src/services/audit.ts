// The audit trail: every security event the contract names, stored in the database and written to
// the log. Never a password, token or key: callers pass only ids and small non-secret details.
import type { Repositories, Storage } from '../storage/index.js';
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

/** Records an event inside AuditLog.transaction. */
export type RecordEvent = (action: AuditAction, ctx: RequestContext, entry: AuditEntry) => Promise<void>;

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
   * Runs `work` in one transaction of `storage`, with a `record` that stores events through it: each
   * event commits with the change it describes, or neither does, and its log line is written only
   * once the transaction has committed (of the attempt that did, if PostgreSQL ran it again).
   */
  async transaction<T>(storage: Pick<Storage, 'transaction'>, work: (repos: Repositories, record: RecordEvent) => Promise<T>): Promise<T> {
    const { result, logLines } = await storage.transaction(async (repos) => {
      const lines: (() => void)[] = [];
      const record: RecordEvent = async (action, ctx, entry) => { lines.push(await this.stage(repos.audit, action, ctx, entry)); };
      return { result: await work(repos, record), logLines: lines };
    });
    for (const line of logLines) line();
    return result;
  }

  /** Stores the event through `repo`; returns the writer of its log line. */
  private async stage(repo: AuditRepository, action: AuditAction, ctx: RequestContext, entry: AuditEntry): Promise<() => void> {
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
