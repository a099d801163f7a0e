// TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, 160-bit secrets; and the single-use recovery
// codes that stand in for a lost authenticator. No storage here: callers record used steps and codes.
import { randomBytes } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import { keyedHash, safeEqual } from './secrets.js';

export const TOTP_ISSUER = 'Gatehouse';
const PERIOD_SECONDS = 30;
const DIGITS = 6;
/** RFC 4226 §4 R6: at least 128 bits, 160 recommended (the length of an HMAC-SHA-1 key). */
const SECRET_BYTES = 20;

/** A new secret, base32 encoded (RFC 4648), as authenticator apps expect it. */
export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

/** `otpauth://totp/Gatehouse:<label>?secret=…&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30`. */
export function otpauthUrl(secretBase32: string, label: string): string {
  return new TOTP({
    issuer: TOTP_ISSUER, label, secret: Secret.fromBase32(secretBase32),
    algorithm: 'SHA1', digits: DIGITS, period: PERIOD_SECONDS,
  }).toString();
}

/** The RFC 6238 time step T = floor(unix seconds / 30). */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / PERIOD_SECONDS);
}

export function isTotpShaped(code: string): boolean {
  return /^\d{6}$/.test(code);
}

/**
 * The time step `code` belongs to, if it is the code of the current or the previous step (RFC 6238
 * §5.2 allows one step of transmission delay back; a code from the future is not accepted), else
 * undefined. The caller must still make sure the step was not accepted before.
 */
export function matchTotpStep(secretBase32: string, code: string, nowMs: number): number | undefined {
  if (!isTotpShaped(code)) return undefined;
  const secret = Secret.fromBase32(secretBase32);
  const current = totpStep(nowMs);
  let matched: number | undefined;
  // Both steps are always computed and compared in constant time: the answer's timing says nothing.
  for (const step of [current, current - 1]) {
    const expected = HOTP.generate({ secret, algorithm: 'SHA1', digits: DIGITS, counter: step });
    if (safeEqual(expected, code) && matched === undefined) matched = step;
  }
  return matched;
}

// ---- recovery codes ----

export const RECOVERY_CODE_COUNT = 10;
/** RFC 4648 base32 alphabet in lower case: 32 symbols, so each byte maps without bias (byte & 31). */
const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const RECOVERY_SYMBOLS = 10;

/** Ten distinct codes like `k3xq7-mbp2d`: 10 symbols of 5 bits (50 bits), grouped for reading aloud. */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  const codes = new Set<string>();
  while (codes.size < count) {
    const symbols = [...randomBytes(RECOVERY_SYMBOLS)].map((b) => RECOVERY_ALPHABET[b & 31]).join('');
    codes.add(`${symbols.slice(0, 5)}-${symbols.slice(5)}`);
  }
  return [...codes];
}

/** What users type varies (case, the dash, spaces); the stored hash is of the bare symbols. */
export function normalizeRecoveryCode(input: string): string | undefined {
  const bare = input.toLowerCase().replace(/[\s-]/g, '');
  return bare.length === RECOVERY_SYMBOLS && [...bare].every((c) => RECOVERY_ALPHABET.includes(c)) ? bare : undefined;
}

/** Keyed hash bound to the user: a code (or its hash) from one account is worthless for another. */
export function hashRecoveryCode(key: Buffer, userId: number, normalized: string): string {
  return keyedHash(key, `${userId}:${normalized}`);
}
