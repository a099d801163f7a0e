// Wires the use cases together from config, storage and the process's shared state.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { AccessTokens } from '../crypto/access-tokens.js';
import { createPasswordHasher, type PasswordHasher } from '../crypto/passwords.js';
import { deriveKeys, type DerivedKeys } from '../crypto/secrets.js';
import { asymmetricKeyRing, hmacKeyRing, type KeyRing } from '../crypto/signing-keys.js';
import { keepLockoutsAcrossRedisRestarts, type LockoutRecovery } from '../limits/lockout-recovery.js';
import { LOCKOUT_EVENTS, Lockout } from '../limits/lockout.js';
import { RedisRevocationStore } from '../limits/redis-revocations.js';
import { MemoryRevocationStore, type RevocationStore } from '../limits/revocations.js';
import type { RedisConnections } from '../limits/shared-state.js';
import { createMailer, type Mailer } from '../mail/index.js';
import type { Storage } from '../storage/index.js';
import { ApiKeyService } from './api-keys.js';
import { AuditLog } from './audit.js';
import { AuthenticationService, type LoginThrottle, type SecondFactor } from './authentication.js';
import type { Logger } from './context.js';
import { MfaService } from './mfa.js';
import { PasswordResetService } from './password-reset.js';
import { SessionService } from './sessions.js';
import { UserService } from './users.js';

export interface Services {
  readonly config: Config;
  readonly storage: Storage;
  readonly clock: Clock;
  readonly derivedKeys: DerivedKeys;
  readonly keyRing: KeyRing;
  readonly tokens: AccessTokens;
  readonly revocations: RevocationStore;
  readonly hasher: PasswordHasher;
  readonly audit: AuditLog;
  readonly authentication: AuthenticationService;
  readonly sessions: SessionService;
  readonly users: UserService;
  readonly apiKeys: ApiKeyService;
  readonly mfa: MfaService;
  readonly passwordReset: PasswordResetService;
  readonly mailer: Mailer;
  /** Stops timers and closes the revocation store. */
  close(): Promise<void>;
}

export interface ServiceDependencies {
  readonly config: Config;
  readonly storage: Storage;
  readonly clock: Clock;
  readonly log: Logger;
  readonly revocations?: RevocationStore;
  readonly throttle?: LoginThrottle;
  readonly secondFactor?: SecondFactor;
  readonly hasher?: PasswordHasher;
  /** Default: SMTP when SMTP_URL is set, else .eml files under DATA_DIR/outbox. */
  readonly mailer?: Mailer;
  /** Shares revocations and lockouts with every other instance. */
  readonly redis?: RedisConnections;
  /**
   * Default true: this process serves, and sends the reset mails promised by anyone (its own 202s,
   * and those a crashed process left behind). A one-off command (the CLI) passes false.
   */
  readonly background?: boolean;
}

/** Audience of Gatehouse access tokens: resource servers check it (RFC 9068 §4). */
export const TOKEN_AUDIENCE = 'gatehouse';

export async function createServices(deps: ServiceDependencies): Promise<Services> {
  const { config, storage, clock, log } = deps;
  const stops: (() => void)[] = [];
  const now = () => clock.now();
  const accessTtlMs = config.accessTokenExpireMinutes * 60_000;
  const derivedKeys = deriveKeys(config.secretKey);
  const keyRing = config.jwtAlgorithm === 'HS256'
    ? hmacKeyRing(config.secretKey)
    : await asymmetricKeyRing({
      algorithm: config.jwtAlgorithm, store: storage.signingKeys, encryptionKey: derivedKeys.encryption, now,
      // A retired key verifies for two token lifetimes: instances that have not reloaded yet may still sign with it.
      retiredKeyLifetimeMs: 2 * accessTtlMs,
    });
  const tokens = new AccessTokens({ keys: keyRing, issuer: config.tokenIssuer, audience: TOKEN_AUDIENCE, ttlSeconds: accessTtlMs / 1000, now });
  if (config.jwtAlgorithm !== 'HS256') {
    // Another instance (or `gatehouse rotate-signing-key`) may have rotated: start signing with the new key soon.
    const timer = setInterval(() => void tokens.reloadKeys(true).catch((err) => log.warn({ err: String(err) }, 'signing key reload failed')), 60_000);
    timer.unref();
    stops.push(() => clearInterval(timer));
  }
  const revocations = deps.revocations ?? (deps.redis
    ? redisRevocations(deps.redis, config.redisKeyPrefix, storage, accessTtlMs, now, log)
    : await warmMemoryRevocations(storage, accessTtlMs, now));
  const hasher = deps.hasher ?? createPasswordHasher();
  // The dummy hash (for unknown users) is made on first use; make it now so the first login is not slower.
  void hasher.verifyDummy('').catch(() => undefined);
  // Imported bcrypt accounts verify slower than argon2id ones: the costliest is verified (with a random
  // password) at start and every half hour, so refused sign-ins take its time before anyone probes one.
  const calibrate = () => void storage.users.costliestLegacyHash()
    .then((legacy) => (legacy === undefined ? undefined : hasher.verify(legacy, randomBytes(16).toString('base64url'))))
    .catch(() => undefined);
  calibrate();
  const calibration = setInterval(calibrate, 30 * 60_000);
  calibration.unref();
  stops.push(() => clearInterval(calibration));
  const audit = new AuditLog(storage.audit, log, now);
  const throttle = deps.throttle ?? (await lockoutFor(config, storage, audit, now, log, deps.redis));
  const mfa = new MfaService({
    storage, encryptionKey: derivedKeys.encryption, recoveryKey: derivedKeys.recoveryCode, audit, throttle, now,
    // Called only after `authentication` exists (disable re-checks the password, upgrading old hashes).
    verifyPassword: async (user, password) => (await authentication.verifyAndUpgrade(user, password)) !== undefined,
  });
  const authentication = new AuthenticationService({ storage, hasher, audit, throttle, nameKey: derivedKeys.lockoutName, secondFactor: deps.secondFactor ?? mfa, log, now });
  const sessions = new SessionService({
    storage, tokens, revocations, audit, refreshKey: derivedKeys.refreshToken,
    refreshTokenDays: config.refreshTokenExpireDays, sessionMaxDays: config.sessionMaxDays, now,
  });
  const users = new UserService({
    storage, hasher, sessions, authentication, revocations, audit, now,
    policy: { minLength: config.passwordMinLength, compositionRules: config.passwordCompositionRules },
  });
  const apiKeys = new ApiKeyService({ storage, audit, hashKey: derivedKeys.apiKey, log, now });
  const mailer = deps.mailer ?? createMailer(config);
  const background = deps.background ?? true;
  const passwordReset = new PasswordResetService({
    storage, mailer, users, sessions, hasher, audit, tokenKey: derivedKeys.passwordReset, publicUrl: config.publicUrl, log, now, worker: background,
  });
  // On one box (SQLite) a starting server is, as a rule, the only one: the reset requests a crash left
  // behind go out now (were a second instance on the same file sending one, that mail goes twice). With
  // PostgreSQL other instances may be working on them: those wait for their lease.
  if (background && storage.handle.dialect === 'sqlite') {
    passwordReset.resumeAbandoned().catch((err: unknown) => log.warn({ err: String((err as Error)?.message ?? err) }, 'password reset requests not resumed; will retry'));
  }
  const close = async () => {
    for (const stop of stops) stop();
    passwordReset.close();
    // Reset mails already promised (202) get a bounded moment to go out before the mailer closes.
    await settleWithin(Promise.all([passwordReset.settled(), apiKeys.settled()]).then(() => undefined), 5000);
    await mailer.close();
    await revocations.close();
  };
  return {
    config, storage, clock, derivedKeys, keyRing, tokens, revocations, hasher, audit, authentication, sessions, users,
    apiKeys, mfa, passwordReset, mailer, close,
  };
}

/**
 * The account lockout, rebuilt from the audit log whenever its counts were lost — in-process, at
 * every start; in Redis, whenever Redis comes back empty — so neither a restart frees an account.
 */
async function lockoutFor(config: Config, storage: Storage, audit: AuditLog, now: () => number, log: Logger, redis?: RedisConnections): Promise<Lockout> {
  let recovery: LockoutRecovery | undefined;
  const lockout = new Lockout({
    threshold: config.lockoutThreshold, windowMinutes: config.lockoutWindowMinutes, keyPrefix: config.redisKeyPrefix, redis: redis?.client, audit,
    countsWhole: () => recovery?.ensureWhole() ?? Promise.resolve(),
  });
  const rebuild = async () => lockout.restore(await storage.audit.ofUsersSince(now() - config.lockoutWindowMinutes * 60_000, LOCKOUT_EVENTS), now());
  if (!redis) await rebuild();
  else {
    recovery = keepLockoutsAcrossRedisRestarts({
      client: redis.client, keyPrefix: config.redisKeyPrefix, windowMs: config.lockoutWindowMinutes * 60_000, rebuild,
      onError: (err) => log.warn({ err: String((err as Error)?.message ?? err) }, 'could not rebuild the lockout counts in Redis'),
    });
    await recovery.firstCheck;
  }
  return lockout;
}

async function settleWithin(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

function revocationSource(storage: Storage) {
  return {
    revokedSessionsSince: (since: number) => storage.sessions.revokedSince(since),
    authorisationsChangedSince: (since: number) => storage.users.authzChangedSince(since),
  };
}

function redisRevocations(redis: RedisConnections, keyPrefix: string, storage: Storage, ttlMs: number, now: () => number, log: Logger): RedisRevocationStore {
  return new RedisRevocationStore({
    client: redis.client, subscriber: redis.subscriber, keyPrefix, ttlMs, now, source: revocationSource(storage),
    fallback: {
      sessionRevoked: async (id) => (await storage.sessions.findById(id))?.revokedAt != null,
      authorisation: async (id) => {
        const user = await storage.users.findById(id);
        return user && { version: user.authzVersion, role: user.role, active: user.isActive };
      },
    },
    onError: (err) => log.warn({ err: String((err as Error)?.message ?? err) }, 'revocation sync failed (Redis or the database); retrying'),
  });
}

async function warmMemoryRevocations(storage: Storage, ttlMs: number, now: () => number): Promise<MemoryRevocationStore> {
  const store = new MemoryRevocationStore({ ttlMs, now });
  await store.loadSince(revocationSource(storage));
  return store;
}
