// Per-client-IP rate limits in named groups: every route counts against one group (`config.rateLimit`,
// default "default"); routes sharing a group share one budget, so the auth routes cannot be
// played against each other. 429 carries Retry-After and RateLimit-* as bare integers.
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../errors/http-error.js';
import { consume, limitHeaders, type Limiter } from '../limits/limiters.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The budget this route counts against, or false for none (health probes). */
    rateLimit?: string | false;
  }
}

export interface RateLimitOptions {
  /** One limiter per group name; must include `defaultGroup`. */
  readonly groups: Readonly<Record<string, Limiter>>;
  readonly defaultGroup?: string;
  /** The counted identity; default: the client IP, IPv6 grouped by /64 (one subscriber's whole block). */
  readonly keyOf?: (request: FastifyRequest) => string;
}

export function clientKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  // An IPv6 client typically controls a whole /64: counting addresses would hand out 2^64 budgets.
  const full = ip.split('%')[0]!.toLowerCase();
  const [head = '', tail = ''] = full.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const parts = full.includes('::') ? [...headParts, ...Array(8 - headParts.length - tailParts.length).fill('0'), ...tailParts] : headParts;
  return `${parts.slice(0, 4).map((p) => p || '0').join(':')}::/64`;
}

export const rateLimit = fp<RateLimitOptions>(
  async (app, options) => {
    const defaultGroup = options.defaultGroup ?? 'default';
    if (!options.groups?.[defaultGroup]) throw new TypeError(`rateLimit: option "groups" must include the default group "${defaultGroup}"`);
    const keyOf = options.keyOf ?? ((request: FastifyRequest) => clientKey(request.clientIp));

    app.addHook('onRequest', async (request, reply) => {
      const group = request.routeOptions.config?.rateLimit ?? defaultGroup;
      if (group === false) return;
      const limiter = options.groups[group];
      if (!limiter) throw new TypeError(`rateLimit: route ${request.routeOptions.url} names unknown group "${group}"`);
      const decision = await consume(limiter, keyOf(request));
      const headers = limitHeaders(decision);
      if (!decision.allowed) {
        throw new HttpError('RATE_LIMITED', { headers: { ...headers, 'retry-after': String(decision.resetSeconds) } });
      }
      reply.headers(headers);
    });
  },
  { name: 'gatehouse-rate-limit', fastify: '5.x', dependencies: ['gatehouse-client-address'] },
);
