// Gatehouse's own authenticators for the auth guard: a bearer access token (RFC 6750) or the browser
// session cookie, checked for signature, claims and revocation on every request without touching the database.
import type { FastifyRequest } from 'fastify';
import { TokenRejected, type AccessClaims, type AccessTokens } from '../crypto/access-tokens.js';
import { HttpError } from '../errors/http-error.js';
import type { RevocationStore } from '../limits/revocations.js';
import type { Authenticate, AuthMethod, Principal } from './auth-guard.js';
import { CSRF_HEADER, csrfValid } from './csrf.js';

export interface CredentialsOptions {
  readonly tokens: AccessTokens;
  readonly revocations: RevocationStore;
}

export function invalidToken(): HttpError {
  return new HttpError('INVALID_TOKEN', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
}

/** The bearer token of an `Authorization` header; undefined when another scheme (or none) is used. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space === -1 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  return header.slice(space + 1).trim();
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
  if (await options.revocations.isRevoked(claims.sid, userId, claims.ver)) {
    request.log.info({ reason: 'revoked', sid: claims.sid }, 'access token rejected');
    throw invalidToken();
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
    const principal = await principalFromAccessToken(token, 'cookie', options, request);
    if (!SAFE_METHODS.has(request.method) && request.routeOptions.config?.csrf !== 'form') {
      const sent = request.headers[CSRF_HEADER];
      const cookie = request.cookies?.[options.csrfCookieName];
      if (!csrfValid(options.csrfKey, principal.sessionId!, typeof sent === 'string' ? sent : undefined, cookie)) {
        throw new HttpError('CSRF_FAILED');
      }
    }
    return principal;
  };
}
