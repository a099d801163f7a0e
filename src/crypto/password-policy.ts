// The password policy: length in code points, the shipped common-password list, no username or email inside, optional composition.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.js';

export interface PolicyOptions { readonly minLength: number; readonly compositionRules: boolean }
export interface PasswordContext { readonly username?: string; readonly email?: string }

/** NIST SP 800-63B §5.1.1.2: verifiers SHOULD permit at least 64 characters; 128 bounds the hashing work. */
export const MAX_PASSWORD_LENGTH = 128;
/**
 * Inputs longer than this many UTF-16 units are too long without normalising them, so a megabyte "password" costs
 * nothing. NFKC can shrink text (composition), but not eightfold, so nothing acceptable is refused by this guard.
 */
const MAX_RAW_UNITS = MAX_PASSWORD_LENGTH * 8;

/** Counts Unicode code points: "🔐" is one character, as a user counts it, although it is two UTF-16 units. */
export function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/**
 * The form of a password that is checked and hashed, or null when it is longer than MAX_PASSWORD_LENGTH.
 * NIST SP 800-63B §5.1.1.2: "the verifier SHOULD apply the Normalization Process for Stabilized Strings using
 * either the NFKC or NFKD normalization". Without it the same typed password ("é" precomposed, or e + combining
 * accent; full-width "ｐａｓｓ" from an IME) yields different bytes on different keyboards and fails to verify,
 * and compatibility variants of a common password would slip past the list.
 */
export function normalizePassword(password: string): string | null {
  if (password.length > MAX_RAW_UNITS) return null;
  const normalized = password.normalize('NFKC');
  return codePointLength(normalized) > MAX_PASSWORD_LENGTH ? null : normalized;
}

let commonPasswords: ReadonlySet<string> | undefined;

/** The shipped list (data-files/common-passwords.txt, see data-files/README.md), read once on first use. */
export function commonPasswordList(): ReadonlySet<string> {
  if (!commonPasswords) {
    // Two levels up from src/crypto/ and from dist/crypto/ alike is the package root.
    const text = readFileSync(join(PACKAGE_ROOT, 'data-files', 'common-passwords.txt'), 'utf8');
    commonPasswords = new Set(text.split('\n').map((line) => line.trim()).filter((line) => line.length > 0));
  }
  return commonPasswords;
}

function fold(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

/**
 * True when the password is `candidate`, ignoring case and compatibility forms. Equal, not containing
 * (CONTRACT: "not equal to the username or email"): "admin-garden-lantern" for admin@example.com is a
 * fine password, and refusing every password that holds a 3-letter name refused ones like it.
 */
function isThe(folded: string, candidate: string | undefined): boolean {
  return candidate !== undefined && candidate.length > 0 && folded === candidate;
}

/**
 * Composition rules are off by default: NIST SP 800-63B §5.1.1.2 says verifiers SHOULD NOT impose them, since they
 * push users to predictable patterns ("Password1!"). Operators who must have them turn on PASSWORD_COMPOSITION_RULES.
 */
function compositionProblem(password: string): string | null {
  if (!/\p{Ll}/u.test(password)) return 'Password must contain a lowercase letter';
  if (!/\p{Lu}/u.test(password)) return 'Password must contain an uppercase letter';
  if (!/\p{N}/u.test(password)) return 'Password must contain a digit';
  if (!/[^\p{L}\p{N}]/u.test(password)) return 'Password must contain a symbol';
  return null;
}

/** null when acceptable, else a human message (e.g. "Password is too common") for a 422 item. Never echoes the password. */
export function passwordProblem(password: string, context: PasswordContext, options: PolicyOptions): string | null {
  const { minLength } = options;
  if (!Number.isSafeInteger(minLength) || minLength < 1 || minLength > MAX_PASSWORD_LENGTH) {
    throw new TypeError(`minLength must be an integer from 1 to ${MAX_PASSWORD_LENGTH}`);
  }
  const normalized = normalizePassword(password);
  if (normalized === null) return `Password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  // The minimum holds for what was typed and for what is hashed: one typed "\uFDFA" is 18 characters
  // under NFKC but one keystroke to guess, and "e" + accent composes to one (the maximum is judged on
  // the hashed form alone, so a decomposed "é" still counts once there).
  if (Math.min(codePointLength(password), codePointLength(normalized)) < minLength) return `Password must be at least ${minLength} characters`;

  const folded = normalized.toLowerCase();
  const username = context.username === undefined ? undefined : fold(context.username.trim());
  if (isThe(folded, username)) return 'Password must not be the username';
  const email = context.email === undefined ? undefined : fold(context.email.trim());
  const at = email === undefined ? -1 : email.lastIndexOf('@');
  // The local part alone ("jane.doe") is the address as its owner types it to strangers.
  const localPart = email !== undefined && at > 0 ? email.slice(0, at) : undefined;
  if (isThe(folded, email) || isThe(folded, localPart)) return 'Password must not be the email address';

  if (commonPasswordList().has(folded)) return 'Password is too common';
  if (options.compositionRules) return compositionProblem(normalized);
  return null;
}
