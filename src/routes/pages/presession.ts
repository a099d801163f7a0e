// CSRF for the anonymous forms (sign-in, sign-up), which have no session to bind a token to: a
// random pre-session cookie and a hidden field holding its HMAC (OWASP CSRF Cheat Sheet, "login
// CSRF": the attacker cannot read the cookie, so cannot make the field). Origin is checked too.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { keyedHash, randomToken, safeEqual } from '../../crypto/secrets.js';
import { hostCookieName } from '../../plugins/session-cookies.js';
import type { PageRouteOptions } from './context.js';
import { readCookie, text } from './context.js';

const COOKIE = 'login_csrf';

const WELL_FORMED = /^[A-Za-z0-9_-]{43}$/;

function fieldFor(options: PageRouteOptions, cookie: string): string {
  return keyedHash(options.services.derivedKeys.csrf, `presession:${cookie}`);
}

/**
 * The hidden-field token for an anonymous form. Reuses the browser's pre-session cookie when it has
 * one (so two open tabs both work), else sets a new one for this browser session.
 */
export function presessionToken(request: FastifyRequest, reply: FastifyReply, options: PageRouteOptions): string {
  const name = hostCookieName(COOKIE, options.services.config.isProduction);
  let cookie = readCookie(request, name);
  if (!cookie || !WELL_FORMED.test(cookie)) {
    cookie = randomToken();
    // Strict: never sent on a cross-site request. HttpOnly: page scripts never need it.
    reply.setCookie(name, cookie, { httpOnly: true, sameSite: 'strict', path: '/', secure: options.cookies.secure });
  }
  return fieldFor(options, cookie);
}

/** True when the form's `csrf_token` is the HMAC of this browser's pre-session cookie. */
export function presessionValid(request: FastifyRequest, options: PageRouteOptions): boolean {
  const cookie = readCookie(request, hostCookieName(COOKIE, options.services.config.isProduction));
  const sent = text(request.body, 'csrf_token');
  if (!cookie || !WELL_FORMED.test(cookie) || !sent || sent.length > 200) return false;
  return safeEqual(sent, fieldFor(options, cookie));
}
