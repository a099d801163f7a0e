// The three browser-session cookies and how they are set and cleared. In production their names
// carry the __Host- prefix (__Secure- for the path-limited refresh cookie), which browsers only
// accept with Secure and (for __Host-) Path=/ and no Domain, so a sibling subdomain cannot plant them.
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const REFRESH_COOKIE_PATH = '/api/v1/auth';

export interface CookieNames {
  readonly access: string;
  readonly refresh: string;
  readonly csrf: string;
}

export interface SessionCookieSettings {
  readonly names: CookieNames;
  readonly secure: boolean;
}

/**
 * A cookie's name: `__Host-` in production (only this origin, over HTTPS, with Path=/ and no
 * Domain, can set it: no planting from a sibling subdomain). Every Path=/ cookie of ours uses it.
 */
export function hostCookieName(name: string, production: boolean): string {
  return production ? `__Host-${name}` : name;
}

export function cookieNames(production: boolean): CookieNames {
  return {
    access: hostCookieName('access_token', production),
    // Path-limited, so it cannot be __Host-; __Secure- still demands Secure.
    refresh: production ? '__Secure-refresh_token' : 'refresh_token',
    csrf: hostCookieName('csrf_token', production),
  };
}

function options(settings: SessionCookieSettings, kind: keyof CookieNames, maxAge: number): CookieSerializeOptions {
  const base = { secure: settings.secure, maxAge };
  switch (kind) {
    case 'access': return { ...base, httpOnly: true, sameSite: 'lax', path: '/' };
    // Strict: never sent on a cross-site request, not even a top-level navigation.
    case 'refresh': return { ...base, httpOnly: true, sameSite: 'strict', path: REFRESH_COOKIE_PATH };
    // Readable by the page, which echoes it in X-CSRF-Token (double submit, bound to the session).
    case 'csrf': return { ...base, httpOnly: false, sameSite: 'lax', path: '/' };
  }
}

export interface SessionCookieValues {
  readonly accessToken: string;
  /** Seconds the access token has left: its cookie goes when it does. */
  readonly accessMaxAgeSeconds: number;
  readonly refreshToken: string;
  /** Seconds the refresh token has left (never past the session's end); the csrf cookie lives as long. */
  readonly refreshMaxAgeSeconds: number;
  readonly csrfToken: string;
}

export function setSessionCookies(reply: FastifyReply, settings: SessionCookieSettings, values: SessionCookieValues): void {
  reply.setCookie(settings.names.access, values.accessToken, options(settings, 'access', values.accessMaxAgeSeconds));
  reply.setCookie(settings.names.refresh, values.refreshToken, options(settings, 'refresh', values.refreshMaxAgeSeconds));
  reply.setCookie(settings.names.csrf, values.csrfToken, options(settings, 'csrf', values.refreshMaxAgeSeconds));
}

/** Clearing repeats Secure and the Path, or browsers keep the original cookie. */
export function clearSessionCookies(reply: FastifyReply, settings: SessionCookieSettings): void {
  for (const kind of ['access', 'refresh', 'csrf'] as const) {
    reply.setCookie(settings.names[kind], '', { ...options(settings, kind, 0), expires: new Date(0) });
  }
}

export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const value = request.cookies?.[name];
  // Two of one name (a value planted beside the real one): the parser keeps the first; neither is believed.
  return value === undefined || value === '' || cookieRepeated(request, name) ? undefined : value;
}

/** Whether the Cookie header holds this cookie more than once. */
export function cookieRepeated(request: FastifyRequest, name: string): boolean {
  const header = request.headers.cookie;
  if (!header) return false;
  let count = 0;
  for (const part of header.split(';')) if (part.trimStart().startsWith(`${name}=`) && ++count > 1) return true;
  return false;
}
