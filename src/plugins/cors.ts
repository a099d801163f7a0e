// CORS with exact origin matching: an origin is allowed only if it equals one configured origin
// byte for byte after URL normalisation (scheme, host, port). No prefixes, suffixes or `null`.
import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface CorsOptions {
  /** Exact origins such as `https://app.example.com`; `['*']` allows any origin without credentials. */
  readonly allowedOrigins: readonly string[];
  readonly methods?: readonly string[];
}

export const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'] as const;
/**
 * The request headers an allowed origin's page may send: the API's own, and the ones htmx adds to
 * every request (a page on an allowed origin driving the API with htmx would otherwise fail its preflight).
 */
const ALLOWED_HEADERS = [
  'Authorization', 'Content-Type', 'X-API-Key', 'X-CSRF-Token', 'X-Request-ID',
  'HX-Request', 'HX-Current-URL', 'HX-Target', 'HX-Trigger', 'HX-Trigger-Name', 'HX-Boosted', 'HX-Prompt', 'HX-History-Restore-Request',
];
const EXPOSED_HEADERS = ['X-Total-Count', 'X-Request-ID', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'];

/**
 * True when `origin` is exactly one of `allowed`. Browsers send the origin's serialisation
 * (lower-case, default port omitted), which is the form the config stores, so plain string
 * equality is the exact comparison: `https://allowed.example.com.evil.net` and `null` never match.
 */
export function isAllowedOrigin(origin: string | undefined, allowed: ReadonlySet<string>): boolean {
  return origin !== undefined && allowed.has(origin);
}

export const cors = fp<CorsOptions>(
  async (app: FastifyInstance, options) => {
    if (!Array.isArray(options.allowedOrigins)) throw new TypeError('cors: option "allowedOrigins" must be an array of origins');
    const anyOrigin = options.allowedOrigins.includes('*');
    const allowed = new Set(options.allowedOrigins.map((o) => new URL(o === '*' ? 'http://invalid' : o).origin));
    await app.register(fastifyCors, {
      origin: anyOrigin ? '*' : (origin, cb) => cb(null, isAllowedOrigin(origin, allowed)),
      credentials: !anyOrigin,
      methods: [...(options.methods ?? CORS_METHODS)],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
      strictPreflight: false,
    });
  },
  { name: 'gatehouse-cors', fastify: '5.x' },
);
