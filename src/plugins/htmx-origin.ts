// HTMX origin check: a mutating request sent by htmx (`HX-Request: true`) must come from a page of
// this server or of an allowed origin. Origins are compared exactly after parsing — never by string
// prefix, so `https://app.example.com.evil.net` is not `https://app.example.com` — and a missing
// Origin fails too (browsers always send it on such requests).
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../errors/http-error.js';

export interface HtmxOriginOptions {
  /** Exact origins; `'*'` grants nothing here (it only relaxes CORS in development). */
  readonly allowedOrigins: readonly string[];
  /** This server's public origin (PUBLIC_URL). */
  readonly ownOrigin: string;
  /**
   * Whether the origin the request was addressed to (scheme and `Host`) also counts as the server's
   * own. Default true, for a server that does not know its public address; with a configured one
   * (PUBLIC_URL) pass false, so that a `Host` an attacker chose (DNS rebinding) vouches for nothing.
   */
  readonly hostIsOwnOrigin?: boolean;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The origin of a URL, or undefined if it is not an http(s) URL. */
export function originOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** The origin the request was addressed to (scheme from a trusted proxy or the socket, host from Host). */
export function requestOrigin(request: FastifyRequest): string | undefined {
  const host = request.headers.host;
  return host ? originOf(`${request.scheme}://${host}`) : undefined;
}

export function sameOriginOrAllowed(request: FastifyRequest, allowed: ReadonlySet<string>, hostIsOwnOrigin = true): boolean {
  const raw = request.headers.origin;
  if (typeof raw !== 'string' || raw === 'null') return false;
  const origin = originOf(raw);
  // The Origin header is exactly a serialised origin; anything with a path is not one.
  if (!origin || origin !== raw) return false;
  return allowed.has(origin) || (hostIsOwnOrigin && origin === requestOrigin(request));
}

export const htmxOrigin = fp<HtmxOriginOptions>(
  async (app, options) => {
    if (!options.ownOrigin) throw new TypeError('htmxOrigin: option "ownOrigin" is required');
    const allowed = new Set([options.ownOrigin, ...options.allowedOrigins.filter((o) => o !== '*')]);
    const hostIsOwnOrigin = options.hostIsOwnOrigin ?? true;
    app.addHook('onRequest', (request, _reply, done) => {
      // An unknown path or method answers 404/405 whatever its headers: routing errors come first.
      // Any HX-Request header counts (htmx sends "true"; `TRUE`, `1` or a repeated header are no way around the check).
      if (SAFE.has(request.method) || request.headers['hx-request'] === undefined || request.is404) return done();
      if (!sameOriginOrAllowed(request, allowed, hostIsOwnOrigin)) return done(new HttpError('ORIGIN_REJECTED'));
      done();
    });
  },
  { name: 'gatehouse-htmx-origin', fastify: '5.x', dependencies: ['gatehouse-client-address'] },
);
