// CSRF protection for cookie-authenticated requests: the double-submit token is an HMAC of the
// session id (OWASP CSRF Cheat Sheet, "signed double-submit cookie"), so a token is valid for one
// session only — an attacker's own valid token never works for the victim's session.
import { keyedHash, safeEqual } from '../crypto/secrets.js';

export const CSRF_HEADER = 'x-csrf-token';

export function csrfTokenFor(key: Buffer, sessionId: string): string {
  return keyedHash(key, `csrf:${sessionId}`);
}

/** True when `sent` equals the csrf cookie and is the token of this session. */
export function csrfValid(key: Buffer, sessionId: string, sent: string | undefined, cookie: string | undefined): boolean {
  if (!sent || !cookie || sent.length > 200) return false;
  const expected = csrfTokenFor(key, sessionId);
  // Both comparisons always run: no early exit that timing could reveal.
  const matchesCookie = safeEqual(sent, cookie);
  const matchesSession = safeEqual(sent, expected);
  return matchesCookie && matchesSession;
}
