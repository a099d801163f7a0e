// What every page route shares: who is signed in (the viewer), redirects that work with and without
// htmx, the `next` parameter made safe, the form CSRF checks, and sending a page or its fragment.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccessClaims } from '../../crypto/access-tokens.js';
import { HttpError } from '../../errors/http-error.js';
import type { Principal } from '../../plugins/auth-guard.js';
import { CSRF_HEADER, csrfTokenFor, csrfValid } from '../../plugins/csrf.js';
import { isSecretParam } from '../../logging/redaction.js';
import { readCookie, type SessionCookieSettings } from '../../plugins/session-cookies.js';
import type { Services } from '../../services/index.js';
import { scopesForRole } from '../../services/scopes.js';
import type { User } from '../../storage/index.js';
import { isHtmxRequest, varyOnHtmx } from '../../pages/error-page.js';
import type { SafeHtml } from '../../pages/html.js';
import { layout, type LayoutOptions, type NavItem } from '../../pages/layout.js';

export interface PageRouteOptions {
  readonly services: Services;
  readonly cookies: SessionCookieSettings;
}

/** A signed-in browser: its principal, the fresh user row, and the CSRF token of its session. */
export interface Viewer {
  readonly principal: Principal;
  readonly user: User;
  readonly csrfToken: string;
  /** Seconds until the access token (and its cookie) expires. */
  readonly expiresIn: number | undefined;
}

export const isHtmx = isHtmxRequest;

export async function viewerOf(request: FastifyRequest, services: Services): Promise<Viewer | null> {
  const principal = await request.optionalPrincipal();
  // Pages are for people: an API key (no session, no CSRF binding) never signs a page in.
  if (!principal || principal.sessionId === undefined || (principal.via !== 'cookie' && principal.via !== 'bearer')) return null;
  let user: User;
  try {
    user = await services.users.current(principal.userId);
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) return null;
    throw err;
  }
  // A page can do whatever the account can (change the password, enrol MFA, keys, admin): only a
  // credential granted every scope of the role signs one in. A token narrowed with `scope`
  // (profile:read for a dashboard, say) is refused here as on the API, never widened by a form.
  if (!scopesForRole(user.role).every((scope) => principal.scopes.has(scope))) return null;
  const claims = (principal as Principal & { claims?: AccessClaims }).claims;
  const expiresIn = claims ? Math.max(0, claims.exp - Math.floor(services.clock.now() / 1000)) : undefined;
  return { principal, user, csrfToken: csrfTokenFor(services.derivedKeys.csrf, principal.sessionId), expiresIn };
}

export const DEFAULT_NEXT = '/account';
const BASE = 'http://gatehouse.invalid';

/**
 * Where to go after signing in: only a path on this site. `//evil.com`, `/\evil.com`,
 * `https://evil.com`, tabs or newlines inside (browsers strip them), and API paths fall back to the
 * account page (OWASP Unvalidated Redirects and Forwards Cheat Sheet).
 */
export function safeNext(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 1000) return DEFAULT_NEXT;
  if (!raw.startsWith('/') || raw.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(raw)) return DEFAULT_NEXT;
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return DEFAULT_NEXT;
  }
  if (url.origin !== BASE || url.pathname.startsWith('/api/') || url.pathname === '/api') return DEFAULT_NEXT;
  if (url.pathname === '/login' || url.pathname === '/logout') return DEFAULT_NEXT;
  // A credential in the address (`?api_key=`) is never carried into another one: the sign-in
  // page's address reaches logs, browser history and Referer headers.
  for (const name of [...url.searchParams.keys()]) if (isSecretParam(name)) url.searchParams.delete(name);
  // Dot segments can normalise "/.//evil.com" into "//evil.com": check what would be sent, too.
  const path = url.pathname + url.search + url.hash;
  return path.startsWith('//') ? DEFAULT_NEXT : path;
}

/** 303 for a browser; for htmx a header it follows with a full navigation (a 303 would be swapped in). */
export function redirect(request: FastifyRequest, reply: FastifyReply, location: string): FastifyReply {
  if (isHtmx(request)) return reply.code(200).header('hx-redirect', location).send('');
  return reply.code(303).header('location', location).send('');
}

/** Not signed in (or no longer): to the sign-in page, coming back to `next` afterwards. */
export function toLogin(request: FastifyRequest, reply: FastifyReply, next: string, credentialsRejected = false): FastifyReply {
  const location = `/login?next=${encodeURIComponent(safeNext(next))}`;
  if (isHtmx(request)) {
    // Contract: a 401 says `invalid_token` when a token was given and refused (an expired cookie).
    const challenge = credentialsRejected ? 'Bearer error="invalid_token"' : 'Bearer';
    return reply.code(401).header('www-authenticate', challenge).header('hx-redirect', location).send('');
  }
  return reply.code(303).header('location', location).send('');
}

/**
 * CSRF for a signed-in form post: the body's `csrf_token` (or the X-CSRF-Token header htmx adds)
 * must equal the csrf cookie and be this session's token. Bearer callers are exempt (contract).
 */
export function checkFormCsrf(request: FastifyRequest, viewer: Viewer, options: PageRouteOptions): void {
  if (viewer.principal.via !== 'cookie') return;
  const body = request.body as Record<string, unknown> | undefined;
  const header = request.headers[CSRF_HEADER];
  const sent = typeof body?.csrf_token === 'string' ? body.csrf_token : typeof header === 'string' ? header : undefined;
  const cookie = readCookie(request, options.cookies.names.csrf);
  if (!csrfValid(options.services.derivedKeys.csrf, viewer.principal.sessionId!, sent, cookie)) throw new HttpError('CSRF_FAILED');
}

/** Form fields arrive as strings; a repeated field arrives as an array and is not a string. */
export function text(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

export interface PageContent {
  readonly title: string;
  readonly main: SafeHtml;
  readonly active?: NavItem;
  /** Sent instead of the whole page when htmx asked (defaults to `main`). */
  readonly fragment?: SafeHtml;
  readonly layout?: Partial<LayoutOptions>;
}

/** The whole page, or only its fragment for htmx; 401s keep the contract's Bearer challenge. */
export function sendPage(request: FastifyRequest, reply: FastifyReply, status: number, viewer: Viewer | null, content: PageContent): FastifyReply {
  reply.code(status).type('text/html; charset=utf-8');
  varyOnHtmx(reply);
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  if (isHtmx(request)) return reply.send((content.fragment ?? content.main).value);
  return reply.send(layout({
    nonce: reply.cspNonce, title: content.title, main: content.main, active: content.active,
    viewer: viewer && { displayName: displayName(viewer.user), isAdmin: viewer.user.role === 'admin', csrfToken: viewer.csrfToken, sessionId: viewer.principal.sessionId! },
    sessionExpiresIn: viewer?.expiresIn,
    ...content.layout,
  }));
}

export function displayName(user: User): string {
  return user.fullName?.trim() || user.username;
}

/** A signed-in page's guard: the viewer, or a redirect to sign-in (then undefined is returned). */
export async function requireViewer(request: FastifyRequest, reply: FastifyReply, options: PageRouteOptions, next: string): Promise<Viewer | undefined> {
  const viewer = await viewerOf(request, options.services);
  if (!viewer) {
    const presented = request.headers.authorization !== undefined || readCookie(request, options.cookies.names.access) !== undefined;
    toLogin(request, reply, next, presented);
    return undefined;
  }
  return viewer;
}

export { readCookie };
