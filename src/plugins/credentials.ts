// Gatehouse's own authenticators for the auth guard: a bearer access token (RFC 6750) or the browser
// session cookie, checked for signature, claims and revocation on every request without touching the database.
import type { FastifyRequest } from 'fastify';
import { TokenRejected, type AccessClaims, type AccessTokens } from '../crypto/access-tokens.js';
import { HttpError } from '../errors/http-error.js';
import type { RevocationStore } from '../limits/revocations.js';
import type { Authenticate, AuthMethod, Principal } from './auth-guard.js';
import { CSRF_HEADER, csrfValid } from './csrf.js';
import { cookieRepeated, readCookie } from './session-cookies.js';

export interface CredentialsOptions {
  readonly tokens: AccessTokens;
  readonly revocations: RevocationStore;
  /** The scopes a token issued before its user's role changed holds under the new role. */
  readonly scopesAfterRoleChange: (tokenScope: string, followsRole: boolean, role: string) => ReadonlySet<string>;
}

export function invalidToken(): HttpError {
  return new HttpError('INVALID_TOKEN', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
}

/**
 * The bearer token of an `Authorization` header: undefined when another scheme (or none, or
 * `Bearer` alone) is used; '' for one given but not usable, which is refused with invalid_token:
 * not `Bearer <token>` (RFC 6750 §2.1: one space, no whitespace inside), or two Authorization
 * headers, possibly of two users (Node keeps only the first; a single-value header, RFC 9110).
 */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const separator = header.search(/\s/);
  if (separator === -1 || header.slice(0, separator).toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(separator + 1);
  // RFC 6750 §2.1: exactly one space, then the token (FastAPI splits at the first space too: "Bearer  x" is refused).
  if (header[separator] !== ' ' || token === '' || /\s/.test(token) || repeated(request.raw.rawHeaders, 'authorization')) return '';
  return token;
}

/** Whether the request carries this (lower-case) header more than once. */
function repeated(rawHeaders: readonly string[], name: string): boolean {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const header = rawHeaders[i]!;
    if (header.length === name.length && header.toLowerCase() === name && ++seen > 1) return true;
  }
  return false;
}


/** Verifies an access token and its revocation state; throws the contract's 401 when refused. */
export async function principalFromAccessToken(
  token: string, via: AuthMethod, options: CredentialsOptions, request: FastifyRequest,
): Promise<Principal & { claims: AccessClaims }> {
  let claims: AccessClaims;
  try {
    claims = await options.tokens.verifyWithReload(token);
  } catch (err) {
    if (err instanceof TokenRejected) {
      request.log.info({ reason: err.reason }, 'access token rejected');
      throw invalidToken();
    }
    throw err;
  }
  const userId = Number(claims.sub);
  const standing = await options.revocations.standing(claims.sid, userId, claims.ver);
  if (standing.kind === 'revoked') {
    request.log.info({ reason: 'revoked', sid: claims.sid }, 'access token rejected');
    throw invalidToken();
  }
  // Issued before a role change: the user's role now decides, never the one the token names.
  if (standing.kind === 're-roled') {
    const scopes = options.scopesAfterRoleChange(claims.scope, claims.scope_follows_role === true, standing.role);
    return { userId, sessionId: claims.sid, roles: [standing.role], scopes, via, claims };
  }
  return { userId, sessionId: claims.sid, roles: claims.roles, scopes: new Set(claims.scope.split(' ').filter(Boolean)), via, claims };
}

export function bearerAuthenticator(options: CredentialsOptions): Authenticate {
  return async (request) => {
    const token = bearerToken(request);
    if (token === undefined) return null;
    if (token === '') throw invalidToken();
    return principalFromAccessToken(token, 'bearer', options, request);
  };
}

export interface CookieCredentialsOptions extends CredentialsOptions {
  readonly cookieName: string;
  readonly csrfCookieName: string;
  readonly csrfKey: Buffer;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'form': a page form post whose CSRF token arrives in the body field `csrf_token`, checked by the route. */
    csrf?: 'form';
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The browser session: the access JWT in its HttpOnly cookie. Every cookie-authenticated
 * POST/PUT/PATCH/DELETE must echo the csrf cookie in X-CSRF-Token, bound to this session;
 * otherwise 403 (a cross-site page can make the browser send the cookie, never read it).
 */
export function cookieAuthenticator(options: CookieCredentialsOptions): Authenticate {
  return async (request) => {
    const token = request.cookies?.[options.cookieName];
    if (!token) return null;
    if (cookieRepeated(request, options.cookieName)) throw invalidToken();
    const principal = await principalFromAccessToken(token, 'cookie', options, request);
    if (!SAFE_METHODS.has(request.method) && request.routeOptions.config?.csrf !== 'form') {
      const sent = request.headers[CSRF_HEADER];
      const cookie = readCookie(request, options.csrfCookieName);
      if (!csrfValid(options.csrfKey, principal.sessionId!, typeof sent === 'string' ? sent : undefined, cookie)) {
        throw new HttpError('CSRF_FAILED');
      }
    }
    return principal;
  };
}
