// Keys derived from SECRET_KEY, random tokens, and keyed hashes. The raw SECRET_KEY signs HS256
// JWTs only (contract: interoperable with the seeds' tokens); every other use gets its own
// HKDF-derived key (RFC 5869), so one purpose can never be turned against another.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export type KeyPurpose =
  | 'refresh-token'
  | 'lockout-name'
  | 'api-key'
  | 'csrf'
  | 'password-reset'
  | 'recovery-code'
  | 'encryption';

const SALT = Buffer.from('gatehouse/v1');

export function deriveKey(secretKey: string, purpose: KeyPurpose, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secretKey, 'utf8'), SALT, `gatehouse:${purpose}`, length));
}

/** A random URL-safe token with `bytes` of entropy (default 256 bits). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * HMAC-SHA-256 of a high-entropy value. Right for tokens and keys of ≥128 random bits: unlike
 * passwords they cannot be guessed, so a slow hash adds cost without adding safety, and the key
 * means a stolen table cannot even be checked offline.
 */
export function keyedHash(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('base64url');
}

/** Constant-time string comparison (lengths may differ; the comparison time does not reveal where). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

/** All the derived keys of one SECRET_KEY, computed once at start-up. */
export interface DerivedKeys {
  readonly refreshToken: Buffer;
  readonly apiKey: Buffer;
  readonly csrf: Buffer;
  readonly passwordReset: Buffer;
  readonly recoveryCode: Buffer;
  readonly encryption: Buffer;
  /** Keys the lockout count of a name that matches no account: what was typed (a password, by mistake) never sits in Redis in clear. */
  readonly lockoutName: Buffer;
}

export function deriveKeys(secretKey: string): DerivedKeys {
  return Object.freeze({
    refreshToken: deriveKey(secretKey, 'refresh-token'),
    apiKey: deriveKey(secretKey, 'api-key'),
    csrf: deriveKey(secretKey, 'csrf'),
    passwordReset: deriveKey(secretKey, 'password-reset'),
    recoveryCode: deriveKey(secretKey, 'recovery-code'),
    encryption: deriveKey(secretKey, 'encryption'),
    lockoutName: deriveKey(secretKey, 'lockout-name'),
  });
}
