// SECRET_KEY strength rules and the development fallback key kept in DATA_DIR.
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirectory } from './make-directory.js';

/** Values copied from tutorials and templates; a key containing one of these is treated as unset. */
const PLACEHOLDERS = [
  'changeme', 'change-me', 'change_me', 'changethis', 'change-this', 'change_this',
  'your-secret', 'your_secret', 'yoursecret', 'secret-key-here', 'secret_key_here',
  'placeholder', 'example', 'insecure', 'notsecret', 'not-secret', 'default', 'password', 'xxxxxxxx',
  'super-secret', 'super_secret', 'supersecret', 'secret-key', 'secret_key', 'secretkey', 'my-secret', 'my_secret', 'mysecret',
];

/**
 * Eight characters or more in alphabet or digit order (`abcdefgh`, `12345678`, `hgfedcba`): typed,
 * not drawn. A random 64-digit hex key holds such a run with odds of about one in two million
 * (base64: far fewer), so no generated key is refused for it.
 */
function hasConsecutiveRun(value: string, length = 8): boolean {
  let up = 1;
  let down = 1;
  for (let i = 1; i < value.length; i += 1) {
    const step = value.charCodeAt(i) - value.charCodeAt(i - 1);
    up = step === 1 ? up + 1 : 1;
    down = step === -1 ? down + 1 : 1;
    if (up >= length || down >= length) return true;
  }
  return false;
}

/** Keys published in tutorials (FastAPI's OAuth2/JWT tutorial): random-looking, and known to everyone. */
const PUBLISHED_KEYS = new Set(['09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7']);

export const MIN_SECRET_BYTES = 32;
/** The contract: at least 32 bytes of entropy. */
const MIN_CAPACITY_BITS = MIN_SECRET_BYTES * 8;

/**
 * The most entropy a key of this length could hold, given the kinds of characters it uses: 64 hex
 * digits hold 256 bits, 32 base64 characters only 192 (24 random bytes), 32 of [a-z0-9] about 165.
 * Generous on purpose (any punctuation counts as all 32 of it): it refuses keys too short for their
 * alphabet; `estimatedEntropyBits` catches the predictable ones.
 */
function capacityBits(value: string): number {
  let alphabet: number;
  if (/^[0-9a-f]+$/.test(value) || /^[0-9A-F]+$/.test(value)) alphabet = 16;
  else {
    alphabet = (/[0-9]/.test(value) ? 10 : 0) + (/[a-z]/.test(value) ? 26 : 0) + (/[A-Z]/.test(value) ? 26 : 0)
      + (/[^0-9a-zA-Z]/.test(value) ? 32 : 0);
  }
  return [...value].length * Math.log2(alphabet);
}
/** Shannon estimate over the characters; catches "aaaa…" and repeated words that pass a length check. */
const MIN_ESTIMATED_BITS = 128;

function estimatedEntropyBits(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const length = [...value].length;
  let bitsPerChar = 0;
  for (const n of counts.values()) {
    const p = n / length;
    bitsPerChar -= p * Math.log2(p);
  }
  return bitsPerChar * length;
}

/** Why this key is too weak for production, or null when it is acceptable. Never echoes the key. */
export function secretKeyWeakness(value: string): string | null {
  const lower = value.toLowerCase();
  if (PLACEHOLDERS.some((p) => lower.includes(p))) return 'is a known placeholder value; generate one with `openssl rand -base64 48`';
  if (PUBLISHED_KEYS.has(lower)) return 'is the example key of a public tutorial; generate one with `openssl rand -base64 48`';
  if (Buffer.byteLength(value, 'utf8') < MIN_SECRET_BYTES || capacityBits(value) < MIN_CAPACITY_BITS) {
    return `must hold at least ${MIN_SECRET_BYTES} bytes of random data (64 hex or 44 base64 characters); generate one with \`openssl rand -base64 48\``;
  }
  // A short run repeated ("0123456789abcdef" twice) has a flat character histogram, so the
  // estimate below misses it; a key that is a repetition holds only its period's entropy.
  if (estimatedEntropyBits(value) < MIN_ESTIMATED_BITS || /^([\s\S]{1,64}?)\1+$/.test(value)) {
    return 'is too predictable (repeated characters or words); generate one with `openssl rand -base64 48`';
  }
  if (hasConsecutiveRun(value)) {
    return 'is too predictable (a run of consecutive characters such as "abcdefgh" or "12345678"); generate one with `openssl rand -base64 48`';
  }
  return null;
}

export const DEV_SECRET_FILE = 'secret_key';

/**
 * Development only: reuse the key kept in DATA_DIR, or create it (mode 0600) so that tokens
 * survive restarts. `created` tells the caller to warn once.
 */
export function loadOrCreateDevSecret(dataDir: string): { key: string; created: boolean } {
  const file = join(dataDir, DEV_SECRET_FILE);
  try {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length >= MIN_SECRET_BYTES) return { key, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  makeDirectory(dataDir);
  const key = randomBytes(48).toString('base64url');
  try {
    // 'wx': two processes starting at once must end up sharing one key, not overwrite each other's.
    writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length < MIN_SECRET_BYTES) throw new Error(`${file} is damaged: delete it or set SECRET_KEY`);
    return { key: existing, created: false };
  }
  chmodSync(file, 0o600); // the umask may have narrowed or widened the create mode
  return { key, created: true };
}
