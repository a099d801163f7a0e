// Per-client-IP rate limits in named groups: every route counts against one group (`config.rateLimit`,
// default "default"); routes sharing a group share one budget, so the auth routes cannot be
// played against each other. 429 carries Retry-After and RateLimit-* as bare integers.
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import ipaddr from 'ipaddr.js';
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

/** A dotted quad already in canonical form (no leading zeros): the common case needs no parsing. */
const CANONICAL_IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function clientKey(ip: string): string {
  if (CANONICAL_IPV4.test(ip)) return ip;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(ip);
  } catch {
    return ip;
  }
  if (address.kind() === 'ipv4') return address.toString();
  const v6 = address as ipaddr.IPv6;
  // One client in any spelling: '::ffff:192.0.2.7' is the IPv4 client, zero-padding and case do not matter.
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  // An IPv6 client typically controls a whole /64: counting addresses would hand out 2^64 budgets.
  return `${v6.parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`;
}

export const rateLimit = fp<RateLimitOptions>(
  async (app, options) => {
    const defaultGroup = options.defaultGroup ?? 'default';
    if (!options.groups?.[defaultGroup]) throw new TypeError(`rateLimit: option "groups" must include the default group "${defaultGroup}"`);
    const keyOf = options.keyOf ?? ((request: FastifyRequest) => clientKey(request.clientIp));

    // Callback style: an exempt route (a health probe) costs no promise at all.
    app.addHook('onRequest', (request, reply, done) => {
      const group = request.routeOptions.config?.rateLimit ?? defaultGroup;
      if (group === false) return done();
      const limiter = options.groups[group];
      if (!limiter) return done(new TypeError(`rateLimit: route ${request.routeOptions.url} names unknown group "${group}"`));
      consume(limiter, keyOf(request)).then((decision) => {
        const headers = limitHeaders(decision);
        if (!decision.allowed) {
          return done(new HttpError('RATE_LIMITED', { headers: { ...headers, 'retry-after': String(decision.resetSeconds) } }));
        }
        reply.headers(headers);
        done();
      }, done);
    });
  },
  { name: 'gatehouse-rate-limit', fastify: '5.x', dependencies: ['gatehouse-client-address'] },
);
