// Security headers on every response. API routes get a deny-all CSP; routes marked
// `config: { page: true }` get a strict nonce-based CSP with a fresh 128-bit nonce per response.
// Written here rather than with @fastify/helmet: its Fastify wrapper rebuilds the helmet middleware
// on every request (measured in docs/benchmarks.md), and the contract needs Permissions-Policy,
// which helmet does not set.
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

export interface SecurityHeadersOptions {
  /** Adds HSTS (only meaningful behind HTTPS; the contract turns it on in production). */
  readonly hsts: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A server-rendered page: page CSP with a nonce instead of the API's deny-all CSP. */
    page?: boolean | { readonly styleUnsafeInline?: boolean };
    /** Cache-Control for this route; every other response is `no-store`. */
    cacheControl?: string;
  }
  interface FastifyReply {
    /** The CSP nonce of this response (page routes only); put it on every <script> and <style>. */
    cspNonce: string;
  }
}

const API_CSP = "default-src 'none'; frame-ancestors 'none'";
export const HSTS = 'max-age=31536000; includeSubDomains';

export function pageCsp(nonce: string, styleUnsafeInline = false): string {
  // 'strict-dynamic' lets a nonce'd script load its own chunks; no 'unsafe-inline', no 'unsafe-eval'.
  const style = styleUnsafeInline ? "'self' 'unsafe-inline'" : `'self' 'nonce-${nonce}'`;
  return [
    "default-src 'self'",
    `script-src 'nonce-${nonce}' 'strict-dynamic'`,
    `style-src ${style}`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A CSP nonce: 128 random bits, new for every response. */
function freshNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * Gives a response that was to carry the API's deny-all CSP the page CSP with a fresh nonce (an
 * HTML error page for an address no route serves); returns the nonce. A page response keeps its own.
 */
export function pageCspFor(reply: FastifyReply): string {
  if (reply.cspNonce === '') {
    reply.cspNonce = freshNonce();
    reply.header('content-security-policy', pageCsp(reply.cspNonce));
  }
  return reply.cspNonce;
}

/** The API header set of each app, for responses written outside the hook chain. */
const baselineByServer = new WeakMap<object, Readonly<Record<string, string>>>();

/**
 * Fastify answers a malformed URL (bad percent-encoding, an over-long parameter) through
 * `frameworkErrors`, before any onRequest hook runs; the error handler calls this so those
 * responses carry the same headers as every other one.
 */
export function ensureSecurityHeaders(reply: FastifyReply): void {
  if (reply.hasHeader('x-content-type-options')) return;
  const headers = baselineByServer.get(reply.server);
  if (headers) reply.headers(headers);
}

/** The API header set of `app`, for a response written straight to a socket (see errors.ts). */
export function baselineSecurityHeaders(app: object): Readonly<Record<string, string>> {
  return baselineByServer.get(app) ?? {};
}

export const securityHeaders = fp<SecurityHeadersOptions>(
  async (app, options) => {
    if (typeof options.hsts !== 'boolean') throw new TypeError('securityHeaders: option "hsts" must be a boolean');
    const common: Record<string, string> = {
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'strict-origin-when-cross-origin',
      'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
      'x-xss-protection': '0',
      'cross-origin-opener-policy': 'same-origin',
      ...(options.hsts ? { 'strict-transport-security': HSTS } : {}),
    };
    const apiHeaders = { ...common, 'content-security-policy': API_CSP };
    baselineByServer.set(app, Object.freeze({ ...apiHeaders, 'cache-control': 'no-store' }));

    app.decorateReply('cspNonce', '');
    app.addHook('onRequest', (request, reply, done) => {
      const { page, cacheControl } = request.routeOptions.config;
      if (page) {
        const nonce = freshNonce();
        reply.cspNonce = nonce;
        reply.headers(common);
        reply.header('content-security-policy', pageCsp(nonce, typeof page === 'object' && page.styleUnsafeInline === true));
      } else {
        reply.headers(apiHeaders);
      }
      reply.header('cache-control', cacheControl ?? 'no-store');
      done();
    });
  },
  { name: 'gatehouse-security-headers', fastify: '5.x' },
);
