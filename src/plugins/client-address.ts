// Who is the client, and did they arrive over HTTPS? Answered from the socket, or from
// X-Forwarded-For / X-Forwarded-Proto only when the peer is a proxy TRUST_PROXY names.
// Fastify's own trustProxy no longer honours a hop count, so the trust decision is made here.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import fp from 'fastify-plugin';
import proxyaddr from 'proxy-addr';
import type { TrustProxy } from '../config/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client's IP: the socket peer, or the first untrusted X-Forwarded-For hop. */
    readonly clientIp: string;
    /** 'https' when the connection (or a trusted proxy) says so. */
    readonly scheme: 'http' | 'https';
  }
}

export type TrustFunction = (address: string, hop: number) => boolean;

export function trustFunction(trust: TrustProxy): TrustFunction {
  switch (trust.kind) {
    case 'none': return () => false;
    // hop 0 is the socket peer: with N hops we trust the peer and the N-1 proxies before it.
    case 'hops': return (_address, hop) => hop < trust.hops;
    case 'addresses': return proxyaddr.compile([...trust.addresses]);
  }
}

/**
 * One client, one spelling: a port some proxies append to the forwarded address (`203.0.113.7:51234`,
 * `[2001:db8::1]:443`) is dropped — a budget per source port would be a fresh budget per connection —
 * and an IPv4-mapped IPv6 address is its IPv4 address.
 */
function normalise(address: string): string {
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(address);
  if (v4WithPort) return v4WithPort[1]!;
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?$/.exec(address);
  const bare = bracketed ? bracketed[1]! : address;
  return bare.startsWith('::ffff:') && bare.includes('.') ? bare.slice(7) : bare;
}

/**
 * The first untrusted hop, as proxyaddr walks X-Forwarded-For from the socket. A hop that is not an
 * IP address (`garbage`, `unknown`, an obfuscated RFC 7239 name) is no client's address: each spelling
 * would be a fresh rate-limit budget. Then the nearest address that is one — the proxy that wrote it —
 * stands for the client, so such requests share that proxy's budget.
 */
export function clientIpOf(req: IncomingMessage, trust: TrustFunction): string {
  if (!req.socket?.remoteAddress) return 'unknown';
  const chain = proxyaddr.all(req, trust);
  for (let i = chain.length - 1; i >= 0; i -= 1) {
    const address = normalise(chain[i]!);
    if (isIP(address) !== 0) return address;
  }
  return normalise(req.socket.remoteAddress);
}

/** How many proxies in front of us are trusted: the socket peer and the X-Forwarded-For hops TRUST_PROXY vouches for. */
function trustedProxies(req: IncomingMessage, trust: TrustFunction): number {
  const chain = proxyaddr.all(req, trust);
  // proxyaddr stops at the first untrusted address, which it includes; unless the hops ran out first.
  return chain.length - 1 + (trust(chain.at(-1)!, chain.length - 1) ? 1 : 0);
}

export function schemeOf(req: IncomingMessage, trust: TrustFunction): 'http' | 'https' {
  const socketScheme = (req.socket as TLSSocket | undefined)?.encrypted ? 'https' : 'http';
  const peer = req.socket?.remoteAddress;
  if (!peer || !trust(peer, 0)) return socketScheme;
  const forwarded = req.headers['x-forwarded-proto'];
  if (forwarded === undefined) return socketScheme;
  // A proxy that appends adds the scheme it was reached by: the value the outermost trusted proxy
  // wrote is the client's (the last one, behind one proxy). Read further left, a client's own
  // "X-Forwarded-Proto: https" would pass a plain-HTTP request off as HTTPS; nearer, the inner
  // proxy's "http" would refuse a client that came over HTTPS. A chain of proxies that overwrite
  // leaves fewer values than proxies: the leftmost is then the outermost's.
  const values = [forwarded].flat().join(',').split(',');
  const value = values[Math.max(0, values.length - trustedProxies(req, trust))]?.trim().toLowerCase();
  return value === 'https' || value === 'http' ? value : socketScheme;
}

export interface ClientAddressOptions {
  readonly trustProxy: TrustProxy;
}

export const clientAddress = fp<ClientAddressOptions>(
  async (app, options) => {
    if (!options.trustProxy) throw new TypeError('clientAddress: option "trustProxy" is required');
    const trust = trustFunction(options.trustProxy);
    const trustsNobody = options.trustProxy.kind === 'none';
    const ips = new WeakMap<object, string>();
    app.decorateRequest('clientIp', {
      getter() {
        // Without trusted proxies the answer is the socket peer: no header to parse, nothing to cache.
        if (trustsNobody) return this.raw.socket?.remoteAddress ? normalise(this.raw.socket.remoteAddress) : 'unknown';
        let ip = ips.get(this.raw);
        if (ip === undefined) {
          ip = clientIpOf(this.raw, trust);
          ips.set(this.raw, ip);
        }
        return ip;
      },
    });
    const schemes = new WeakMap<object, 'http' | 'https'>();
    app.decorateRequest('scheme', {
      getter() {
        // Without trusted proxies: the socket's, no header to parse, nothing to cache.
        if (trustsNobody) return (this.raw.socket as TLSSocket | undefined)?.encrypted ? 'https' : 'http';
        let scheme = schemes.get(this.raw);
        if (scheme === undefined) {
          scheme = schemeOf(this.raw, trust);
          schemes.set(this.raw, scheme);
        }
        return scheme;
      },
    });
  },
  { name: 'gatehouse-client-address', fastify: '5.x' },
);
