// Revocations shared by every instance through Redis. Each instance keeps a local mirror, so the
// per-request check stays an in-memory lookup; a revocation is written to Redis (with a TTL of one
// access-token lifetime) and published, and every instance applies it on receipt. While this
// instance's subscription is down it cannot know what others revoked, so it asks the database —
// the source of truth — instead, and on every (re)subscription it reloads the mirror from Redis and
// the database, so nothing revoked during an outage (or lost by a Redis restart) is forgotten.
// What this instance revoked while its own link was down is announced once the link is back; and
// every instance reads the database's latest revocations every CATCH_UP_MS, for the one case no
// broadcast covers: a change written by an instance that lost Redis mid-change and then stopped.
import {
  AS_ISSUED, MemoryRevocationStore, REVOKED, standingUnder, type Authorisation, type RevocationSource, type RevocationStore, type Standing,
} from './revocations.js';
import { redisUnavailable, type Redis } from './redis-client.js';

/** Per-request answers from the database, used only while the shared mirror cannot be trusted. */
export interface RevocationFallback {
  sessionRevoked(sessionId: string): Promise<boolean>;
  /** The user's authorisation now; undefined when the user is gone. */
  authorisation(userId: number): Promise<Authorisation | undefined>;
}

export interface RedisRevocationOptions {
  readonly client: Redis;
  /** A second connection, used only for SUBSCRIBE (a subscribed connection can do nothing else). */
  readonly subscriber: Redis;
  readonly keyPrefix: string;
  readonly ttlMs: number;
  readonly now: () => number;
  readonly source: RevocationSource;
  readonly fallback: RevocationFallback;
  readonly onError?: (err: unknown) => void;
}

// A user's authorisation is stored as "<version> <role> <1|0 active>"; only a newer version replaces
// it (two admins acting at once must not turn it back).
const RAISE_VERSION = `local v = tonumber(string.match(redis.call('GET', KEYS[1]) or '0', '^%d+') or '0')
if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2]) end
return 1`;

function authorisationText(authz: Authorisation): string {
  return `${authz.version} ${authz.role} ${authz.active ? 1 : 0}`;
}

/**
 * Parses authorisationText. What it cannot read fails closed: a bare version (an older release's
 * value) refuses the tokens older than it, an unreadable version every token of the user.
 */
function parseAuthorisation(text: string): Authorisation {
  const [version, role = '', active] = text.split(' ');
  const v = Number(version);
  if (!Number.isSafeInteger(v) || v < 1) return { version: Number.MAX_SAFE_INTEGER, role: '', active: false };
  return { version: v, role, active: active === '1' && role !== '' };
}

const MAX_UNANNOUNCED = 100_000;
/** Broadcasts arrive at once; this bounds how long a revocation nobody could announce goes unheard. */
const CATCH_UP_MS = 2000;
/** Each catch-up looks back this far before the last one began: a change is stamped before it commits. */
const CATCH_UP_OVERLAP_MS = 30_000;
const RESYNC_RETRY_MS = 1000;
/**
 * How long a revocation waits for its own broadcast to come back before answering anyway. Redis
 * hands a message to every subscriber in the same pass, so once ours is back, every other
 * instance's is on its way too: a logout answered after that is refused by the other instances
 * by the time the client can ask them (CONTRACT: "stop working at once").
 */
const ECHO_WAIT_MS = 250;

export class RedisRevocationStore implements RevocationStore {
  private readonly mirror: MemoryRevocationStore;
  private readonly channel: string;
  private synced = false;
  private closed = false;
  /** Revocations made while Redis was away, to announce once it is back. */
  private readonly unannounced: string[] = [];
  private retry: NodeJS.Timeout | undefined;
  /** Our own published messages not yet heard back, by message text, oldest first. */
  private readonly echoes = new Map<string, (() => void)[]>();
  private readonly catchUpTimer: NodeJS.Timeout;
  private lastCatchUp: number;
  private catchingUp = false;
  /** A sync failure was reported and none has succeeded since: one warning per outage, not one a second. */
  private failing = false;

  constructor(private readonly o: RedisRevocationOptions) {
    this.mirror = new MemoryRevocationStore({ ttlMs: o.ttlMs, now: o.now });
    this.channel = `${o.keyPrefix}revocations`;
    o.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.apply(message);
    });
    // Every (re)connection: subscribe first, then reload, so nothing published in between is missed.
    o.subscriber.on('ready', () => void this.resync());
    // The reload reads through the command connection, which may come back after the subscriber.
    o.client.on('ready', () => {
      if (!this.synced) void this.resync();
      void this.announceLater();
    });
    o.subscriber.on('close', () => {
      this.synced = false;
    });
    if (o.subscriber.status === 'ready') void this.resync();
    this.lastCatchUp = o.now();
    this.catchUpTimer = setInterval(() => void this.catchUp(), CATCH_UP_MS);
    this.catchUpTimer.unref();
  }

  /** Applies the database's revocations of the last moments (those already known change nothing). */
  async catchUp(): Promise<void> {
    if (this.catchingUp || this.closed || !this.synced) return;
    this.catchingUp = true;
    const startedAt = this.o.now();
    try {
      await this.mirror.loadSince(this.o.source, this.lastCatchUp - CATCH_UP_OVERLAP_MS);
      this.lastCatchUp = startedAt;
      this.failing = false;
    } catch (err) {
      // The next tick tries again.
      this.syncFailed(err);
    } finally {
      this.catchingUp = false;
    }
  }

  /** Resolves once the mirror is trustworthy (tests and start-up wait for it). */
  async ready(): Promise<void> {
    if (!this.synced) await this.resync();
  }

  /**
   * Other instances hear of a revocation only through this instance's command connection: while it
   * is down, their mirrors (trusted, their own links being up) would keep accepting the token.
   */
  assertReachable(): void {
    if (this.o.client.status !== 'ready') throw redisUnavailable(new Error(`redis connection ${this.o.client.status}`));
  }

  async revokeSessions(sessionIds: readonly string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    this.mirror.revokeSessionsNow(sessionIds);
    await this.announce(sessionIds.map((id) => `s ${id}`));
  }

  async recordAuthorisation(userId: number, authz: Authorisation): Promise<void> {
    this.mirror.recordAuthorisationNow(userId, authz);
    await this.announce([`v ${userId} ${authorisationText(authz)}`]);
  }

  /**
   * Stores and publishes revocations. When Redis is away the caller gets a 503, but the revocation
   * (already in the database) is kept and announced on reconnect: instances whose own subscription
   * never broke would otherwise keep accepting the token until it expires.
   */
  private async announce(messages: readonly string[]): Promise<void> {
    try {
      const multi = this.o.client.multi();
      for (const message of messages) {
        const [kind, id, version] = message.split(' ');
        if (kind === 's') multi.set(`${this.o.keyPrefix}rev:s:${id}`, '1', 'PX', this.o.ttlMs);
        else multi.eval(RAISE_VERSION, 1, `${this.o.keyPrefix}rev:v:${id}`, version!, String(this.o.ttlMs), message.slice(`v ${id} `.length));
        multi.publish(this.channel, message);
      }
      const heard = this.synced ? Promise.all(messages.map((m) => this.echoOf(m))) : undefined;
      await multi.exec();
      await heard;
    } catch (err) {
      this.unannounced.push(...messages);
      // Bounded: past one token lifetime of revocations, every token they name has expired anyway.
      if (this.unannounced.length > MAX_UNANNOUNCED) this.unannounced.splice(0, this.unannounced.length - MAX_UNANNOUNCED);
      throw redisUnavailable(err);
    }
  }

  private async announceLater(): Promise<void> {
    const messages = this.unannounced.splice(0);
    if (messages.length === 0) return;
    await this.announce(messages).catch((err: unknown) => this.o.onError?.(err));
  }

  standing(sessionId: string, userId: number, version: number): Standing | Promise<Standing> {
    const known = this.mirror.standing(sessionId, userId, version);
    if (known === REVOKED || this.synced) return known;
    return this.checkDatabase(sessionId, userId, version);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.catchUpTimer);
    await this.mirror.close();
  }

  private async checkDatabase(sessionId: string, userId: number, version: number): Promise<Standing> {
    if (await this.o.fallback.sessionRevoked(sessionId)) return REVOKED;
    const current = await this.o.fallback.authorisation(userId);
    if (current === undefined) return REVOKED;
    return version < current.version ? standingUnder(current) : AS_ISSUED;
  }

  /** Resolves when our subscriber hears `message` (one hearing each), or after ECHO_WAIT_MS. */
  private echoOf(message: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const waiting = this.echoes.get(message);
        const at = waiting?.indexOf(done) ?? -1;
        if (at !== -1) waiting!.splice(at, 1);
        if (waiting?.length === 0) this.echoes.delete(message);
        resolve();
      };
      const timer = setTimeout(done, ECHO_WAIT_MS);
      this.echoes.set(message, [...(this.echoes.get(message) ?? []), done]);
    });
  }

  private apply(message: string): void {
    this.echoes.get(message)?.[0]?.();
    const [kind, a] = message.split(' ');
    if (kind === 's' && a) this.mirror.revokeSessionsNow([a]);
    if (kind === 'v' && a) this.mirror.recordAuthorisationNow(Number(a), parseAuthorisation(message.slice(`v ${a} `.length)));
  }

  private async resync(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.o.subscriber.status === 'ready') await this.o.subscriber.subscribe(this.channel);
      await this.loadFromRedis();
      await this.mirror.loadSince(this.o.source);
      this.synced = this.o.subscriber.status === 'ready';
      this.failing = false;
    } catch (err) {
      this.synced = false;
      this.syncFailed(err);
      // Until the mirror is trusted every check asks the database; keep trying, since the database
      // (or the command connection) can come back without a Redis event to prompt a reload.
      if (!this.closed && !this.retry) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          void this.resync();
        }, RESYNC_RETRY_MS);
        this.retry.unref();
      }
    }
  }

  private syncFailed(err: unknown): void {
    if (!this.failing) this.o.onError?.(err);
    this.failing = true;
  }

  private async loadFromRedis(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.o.client.scan(cursor, 'MATCH', `${this.o.keyPrefix}rev:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length === 0) continue;
      const values = await this.o.client.mget(...keys);
      keys.forEach((key, i) => {
        const rest = key.slice(this.o.keyPrefix.length + 'rev:'.length);
        if (rest.startsWith('s:')) this.mirror.revokeSessionsNow([rest.slice(2)]);
        else if (rest.startsWith('v:') && values[i]) this.mirror.recordAuthorisationNow(Number(rest.slice(2)), parseAuthorisation(values[i]!));
      });
    } while (cursor !== '0');
  }

}
