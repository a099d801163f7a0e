// The API key format: `gk_<id>_<secret>`. The public prefix (`gk_<id>`, 11 characters) finds the
// row and is shown in lists; the secret (256 random bits) proves possession and is only ever
// stored as a keyed hash.
import { randomBytes } from 'node:crypto';
import { keyedHash, randomToken, safeEqual } from './secrets.js';

/** Marks Gatehouse keys, so secret scanners (and people) recognise a leaked one. */
export const KEY_MARK = 'gk_';
const ID_LENGTH = 8;
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** 32 random bytes in base64url: 43 URL-safe characters. */
const SECRET_BYTES = 32;
const SECRET_LENGTH = 43;
const KEY_SHAPE = new RegExp(`^(${KEY_MARK}[a-z0-9]{${ID_LENGTH}})_([A-Za-z0-9_-]{${SECRET_LENGTH}})$`);

export interface IssuedApiKey {
  /** The whole key, shown to its owner once. */
  readonly key: string;
  /** Public: stored in clear, unique, used for the lookup and shown in lists. */
  readonly prefix: string;
}

/** A random lookup id: 36^8 ≈ 2.8·10^12 values, so a clash (retried by the caller) is rare. */
function randomId(): string {
  // 252 is the largest multiple of 36 below 256: rejecting the rest keeps every character equally likely.
  let id = '';
  while (id.length < ID_LENGTH) {
    for (const byte of randomBytes(ID_LENGTH * 2)) {
      if (byte < 252 && id.length < ID_LENGTH) id += ID_ALPHABET[byte % 36];
    }
  }
  return id;
}

export function generateApiKey(): IssuedApiKey {
  const prefix = `${KEY_MARK}${randomId()}`;
  return { prefix, key: `${prefix}_${randomToken(SECRET_BYTES)}` };
}

/** The prefix of a well-formed key, or undefined for anything else (which is then never looked up). */
export function parseApiKey(key: string): { prefix: string } | undefined {
  const match = KEY_SHAPE.exec(key);
  return match ? { prefix: match[1]! } : undefined;
}

/**
 * HMAC-SHA-256 with the derived `apiKey` key, not argon2 or bcrypt: the secret has 256 random bits,
 * so it cannot be guessed and a slow hash would only make every API request slow (OWASP Password
 * Storage Cheat Sheet: slow hashes are for low-entropy secrets). The key means a stolen api_keys
 * table cannot even be checked offline without SECRET_KEY. The whole key is hashed, binding the
 * secret to its prefix.
 */
export function hashApiKey(derivedKey: Buffer, key: string): string {
  return keyedHash(derivedKey, key);
}

/** Constant-time check of a presented key against the stored hash. */
export function apiKeyMatches(derivedKey: Buffer, key: string, storedHash: string): boolean {
  return safeEqual(hashApiKey(derivedKey, key), storedHash);
}
