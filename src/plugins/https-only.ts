// Production transport rule: plain-HTTP page requests are redirected (308) to HTTPS; plain-HTTP API
// requests are refused with 400 rather than redirected, so a client that leaked a token over HTTP
// finds out (OWASP ASVS 4.1.2). Needs the clientAddress plugin for `request.scheme`.
import fp from 'fastify-plugin';
import { HttpError } from '../errors/http-error.js';
import { isNeverRouted } from './errors.js';
import { withoutSecretParams } from '../logging/redaction.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Health probes from a load balancer speak plain HTTP; they carry no secrets. */
    allowPlainHttp?: boolean;
  }
}

export interface HttpsOnlyOptions {
  /** Paths under this prefix are API requests (400); everything else is a page (308). */
  readonly apiPrefix: string;
  /** Where to send redirected browsers: the configured public origin when it is https. */
  readonly publicOrigin?: string;
}

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** Whether `path` (no query) is `prefix` or below it: `/api` and `/api/v1`, not `/apix`. */
export function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** The path with dot segments resolved and percent-escapes decoded; undefined if it cannot be decoded. */
function normalisedPath(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url.split('?')[0]!, 'http://x').pathname);
  } catch {
    return undefined;
  }
}

export const httpsOnly = fp<HttpsOnlyOptions>(
  async (app, options) => {
    if (!options.apiPrefix?.startsWith('/')) throw new TypeError('httpsOnly: option "apiPrefix" must start with "/"');
    const fixedOrigin = options.publicOrigin?.startsWith('https://') ? options.publicOrigin : undefined;
    const underApi = (path: string) => isUnder(path, options.apiPrefix);
    app.addHook('onRequest', (request, reply, done) => {
      if (request.routeOptions.config.allowPlainHttp || request.scheme === 'https') return done();
      // TRACE and TRACK are refused with 405 by the errors plugin whatever the scheme.
      if (isNeverRouted(request.method)) return done();
      const path = request.url;
      // API or page by where the request is routed, not by its spelling: `/%61pi/v1/…` and
      // `/./api/v1/…` reach the API too, and must be refused, not redirected.
      const routed = request.is404 ? normalisedPath(path) : request.routeOptions.url;
      const isApi = routed === undefined || underApi(routed);
      const isRead = request.method === 'GET' || request.method === 'HEAD';
      // Only an origin-form target (`/path?query`) is appended to the https origin: an absolute-form
      // one (`http://evil.example/x`, RFC 9112 §3.2.2) or `*` would make a mangled or foreign address.
      if (isApi || !isRead || !path.startsWith('/')) return done(new HttpError('HTTPS_REQUIRED'));
      // The Host header is only used when no https public origin is configured, and only if well formed.
      const host = request.headers.host;
      const origin = fixedOrigin ?? (host && HOST.test(host) ? `https://${host}` : undefined);
      if (!origin) return done(new HttpError('HTTPS_REQUIRED'));
      // A credential in the query was already sent in clear: the redirect must not have the browser repeat it.
      reply.code(308).header('location', origin + withoutSecretParams(path)).send();
    });
  },
  { name: 'gatehouse-https-only', fastify: '5.x', dependencies: ['gatehouse-client-address'] },
);
