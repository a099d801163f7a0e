// Password hashing and verification: argon2id on the libuv pool behind a bounded queue; imported bcrypt hashes verify and ask for a rehash.
import { randomBytes } from 'node:crypto';
import { setTimeout as waitFor } from 'node:timers/promises';
import { availableParallelism } from 'node:os';
import { hash as argon2Hash, parseOptions, verify as argon2Verify, type Algorithm, type Options } from '@node-rs/argon2';
import { bcryptCompare } from './bcrypt-thread.js';
import { createHashQueue } from './hash-queue.js';
import { MAX_PASSWORD_LENGTH, normalizePassword } from './password-policy.js';

export interface PasswordVerification { readonly ok: boolean; readonly needsRehash: boolean }
export interface PasswordHasher {
  /** An argon2id PHC string. Rejects with TypeError for a password over 128 characters (check the policy first). */
  hash(password: string): Promise<string>;
  /** argon2 or bcrypt; needsRehash for bcrypt or weaker argon2 parameters. Never throws for a bad hash. */
  verify(storedHash: string, password: string): Promise<PasswordVerification>;
  /** Same cost as verifying a real argon2id hash; for unknown users, so their answer takes as long. */
  verifyDummy(password: string): Promise<void>;
  /**
   * Resolves once the costliest kind of hash met lately could have been verified since `startedAt`
   * (performance.now()): a refused sign-in then answers no sooner than one of an imported bcrypt
   * account would, whose verify can take ten times an argon2id one. A timer: no CPU is spent.
   */
  equalizeFailure(startedAt: number): Promise<void>;
}
export interface HasherOptions {
  readonly memoryCost?: number; readonly timeCost?: number; readonly parallelism?: number;
  readonly concurrency?: number; readonly maxQueue?: number;
}

/** OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB (19456 KiB), t=2, p=1. */
const DEFAULTS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
// The const enum in the typings cannot be read under isolatedModules; 2 is Algorithm.Argon2id, 1 is Version.V0x13.
const ARGON2ID = 2 as Algorithm;
const VERSION_0X13 = 1;
/**
 * Stored hashes asking for more than this are not verified (they come from imports, not from us): one hash with
 * m = 4 GiB or bcrypt cost 31 would pin a worker for minutes. Above OWASP's strongest rows and passlib's default 12.
 */
const MAX_STORED = { memoryCost: 262_144, timeCost: 16, parallelism: 16, bcryptCost: 14 } as const;
/** bcrypt reads only the first 72 bytes of its input. */
const BCRYPT_MAX_BYTES = 72;
const BCRYPT_HASH = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
/**
 * Queue depth before anything was measured: assume 50 ms per hash at OWASP cost (about twice what one core takes
 * here), scaled by memory × passes. The queue then follows the measured run time (see hash-queue.ts).
 */
const ESTIMATE_MS_AT_DEFAULTS = 50;

const NOT_OK: PasswordVerification = { ok: false, needsRehash: false };
/** A kind of stored hash not verified for this long no longer sets the refusal time (see equalizeFailure). */
const KIND_FORGOTTEN_MS = 60 * 60_000;

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen < 1) throw new TypeError(`${name} must be a positive integer`);
  return chosen;
}

export function createPasswordHasher(options: HasherOptions = {}): PasswordHasher {
  const memoryCost = positiveInteger('memoryCost', options.memoryCost, DEFAULTS.memoryCost);
  const timeCost = positiveInteger('timeCost', options.timeCost, DEFAULTS.timeCost);
  const parallelism = positiveInteger('parallelism', options.parallelism, DEFAULTS.parallelism);
  // OWASP's weakest equivalent row is m=7 MiB, t=5; refuse anything below that trade-off.
  if (memoryCost < 7_168 || memoryCost * timeCost < 7_168 * 5) {
    throw new TypeError('memoryCost and timeCost must meet OWASP\'s argon2id minimum (m=19456 KiB with t=2, or an equivalent row)');
  }
  // Each concurrent hash uses one libuv pool thread (UV_THREADPOOL_SIZE, default 4) and memoryCost of memory.
  const concurrency = positiveInteger('concurrency', options.concurrency, availableParallelism());
  const params: Options = { algorithm: ARGON2ID, memoryCost, timeCost, parallelism };
  const estimateMs = (ESTIMATE_MS_AT_DEFAULTS * memoryCost * timeCost) / (DEFAULTS.memoryCost * DEFAULTS.timeCost);
  const queue = createHashQueue({ concurrency, maxQueue: options.maxQueue, estimateMs });

  // What each kind of stored hash costs to verify (argon2id at its parameters, bcrypt at its cost):
  // the fastest run seen, its cost on a quiet machine, so a storm that slows every verify does not
  // set the refusal time for the hour after it. Kinds not met for an hour are forgotten (the last
  // imported bcrypt accounts re-hashed).
  const fastestByKind = new Map<string, { ms: number; seenAt: number }>();
  const measure = async <T>(kind: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      const now = performance.now();
      const known = fastestByKind.get(kind);
      fastestByKind.set(kind, { ms: Math.min(known?.ms ?? Infinity, now - started), seenAt: now });
    }
  };
  /** The costliest kind's verify time: what every refused sign-in waits out. */
  const refusalTime = (now: number): number => {
    let slowest = 0;
    for (const [kind, { ms, seenAt }] of fastestByKind) {
      if (now - seenAt > KIND_FORGOTTEN_MS) fastestByKind.delete(kind);
      else slowest = Math.max(slowest, ms);
    }
    return slowest;
  };
  const timed = <T>(kind: string, work: () => Promise<T>): Promise<T> => queue.run(() => measure(kind, work));
  /** One name per cost: a stored hash at the configured parameters is the dummy's kind. */
  const argon2Kind = (algorithm: number, m: number, t: number, p: number) => `argon2:${algorithm}:${m},${t},${p}`;
  const ownKind = argon2Kind(ARGON2ID, memoryCost, timeCost, parallelism);

  // A real argon2id hash of a random secret at the configured cost, made on first need (inside a queued job).
  let dummy: Promise<string> | undefined;
  const dummyHash = (): Promise<string> => {
    dummy ??= argon2Hash(randomBytes(32).toString('base64url'), params).catch((error: unknown) => {
      dummy = undefined;
      throw error;
    });
    return dummy;
  };
  const runDummy = async (normalized: string): Promise<void> => {
    await queue.run(async () => {
      // Made once, on first need: its making is not a verification's time.
      const stored = await dummyHash();
      await measure(ownKind, () => argon2Verify(stored, normalized).catch(() => false));
    });
  };

  async function verifyArgon2(storedHash: string, normalized: string): Promise<PasswordVerification> {
    let stored: ReturnType<typeof parseOptions>;
    try {
      stored = parseOptions(storedHash);
    } catch {
      await runDummy(normalized);
      return NOT_OK;
    }
    const tooCostly = stored.memoryCost > Math.max(memoryCost, MAX_STORED.memoryCost)
      || stored.timeCost > Math.max(timeCost, MAX_STORED.timeCost)
      || stored.parallelism > Math.max(parallelism, MAX_STORED.parallelism);
    if (tooCostly) {
      await runDummy(normalized);
      return NOT_OK;
    }
    const ok = await timed(argon2Kind(stored.algorithm, stored.memoryCost, stored.timeCost, stored.parallelism), () => argon2Verify(storedHash, normalized).catch(() => false));
    if (!ok) return NOT_OK;
    const weaker = stored.algorithm !== ARGON2ID || stored.version !== VERSION_0X13 || stored.memoryCost < memoryCost
      || stored.timeCost < timeCost || stored.outputLen < 32 || stored.saltLen < 16;
    return { ok: true, needsRehash: weaker };
  }

  /**
   * bcrypt from passlib/FastAPI apps ($2b$; $2a$ and $2y$ from older or PHP apps, the same algorithm). It is given
   * the password as typed, not NFKC-normalised, because that is what the old app hashed. Over 72 bytes is refused
   * rather than truncated: bcrypt ignores the rest, so "the first 72 bytes + anything" would log in (Okta, 2024).
   * Python's bcrypt 5 refuses such passwords too. The account's owner resets the password instead.
   */
  async function verifyBcrypt(storedHash: string, password: string, normalized: string): Promise<PasswordVerification> {
    const cost = Number(BCRYPT_HASH.exec(storedHash)?.[1]);
    if (!(cost >= 4 && cost <= MAX_STORED.bcryptCost) || Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_BYTES) {
      await runDummy(normalized);
      return NOT_OK;
    }
    const ok = await timed(`bcrypt:${cost}`, () => bcryptCompare(password, storedHash).catch(() => false));
    return ok ? { ok: true, needsRehash: true } : NOT_OK;
  }

  return {
    async hash(password) {
      const normalized = normalizePassword(password);
      if (normalized === null) throw new TypeError(`password is longer than ${MAX_PASSWORD_LENGTH} characters`);
      return queue.run(() => argon2Hash(normalized, params));
    },

    async verify(storedHash, password) {
      // Over-long input is refused before any hashing work, for known and unknown users alike (verifyDummy too).
      const normalized = normalizePassword(password);
      if (normalized === null) return NOT_OK;
      if (typeof storedHash !== 'string') storedHash = '';
      if (storedHash.startsWith('$argon2')) return verifyArgon2(storedHash, normalized);
      if (BCRYPT_HASH.test(storedHash)) return verifyBcrypt(storedHash, password, normalized);
      // Unknown or malformed: costs what a real verify costs, so a broken row does not stand out by timing.
      await runDummy(normalized);
      return NOT_OK;
    },

    async verifyDummy(password) {
      const normalized = normalizePassword(password);
      if (normalized !== null) await runDummy(normalized);
    },

    async equalizeFailure(startedAt) {
      const now = performance.now();
      const remaining = startedAt + refusalTime(now) - now;
      if (remaining > 1) await waitFor(remaining);
    },
  };
}
