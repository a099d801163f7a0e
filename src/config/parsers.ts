// Parsers for single environment values. Each returns the parsed value or throws
// a ConfigValueError whose message completes the sentence "NAME <message>".
import proxyaddr from 'proxy-addr';

export class ConfigValueError extends Error {
  override readonly name = 'ConfigValueError';
}

export function parseInteger(raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigValueError(`must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigValueError(`must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function parseEnum<T extends string>(raw: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === raw.trim());
  if (found === undefined) throw new ConfigValueError(`must be one of ${allowed.join(', ')}, got "${raw}"`);
  return found;
}

export interface RateLimit {
  readonly points: number;
  readonly durationSeconds: number;
}

const UNIT_SECONDS: Record<string, number> = {
  s: 1, sec: 1, second: 1, seconds: 1,
  m: 60, min: 60, minute: 60, minutes: 60,
  h: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
};

const MAX_RATE_POINTS = 1_000_000_000;
const MAX_RATE_WINDOW_SECONDS = 7 * 86400;

/** "100/minute", "10/second", "5/15minutes", "1000/hour". */
export function parseRateLimit(raw: string): RateLimit {
  const match = /^\s*(\d+)\s*\/\s*(\d*)\s*([a-z]+)\s*$/i.exec(raw);
  const unit = match ? UNIT_SECONDS[match[3]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new ConfigValueError(`must look like "100/minute" (units: second, minute, hour, day), got "${raw}"`);
  }
  const points = Number(match[1]);
  const multiplier = match[2] ? Number(match[2]) : 1;
  if (points < 1 || multiplier < 1) throw new ConfigValueError(`must allow at least 1 request per period, got "${raw}"`);
  // Bounds keep the figures exact: RateLimit-* headers are bare integers, and the in-process
  // limiter's window is a timer, which Node cannot set beyond ~24.8 days (it fires at once).
  if (points > MAX_RATE_POINTS) {
    throw new ConfigValueError(`allows at most ${MAX_RATE_POINTS} requests per period, got "${raw}"`);
  }
  const durationSeconds = unit * multiplier;
  if (durationSeconds > MAX_RATE_WINDOW_SECONDS) {
    throw new ConfigValueError(`has a period of at most ${MAX_RATE_WINDOW_SECONDS / 86400} days, got "${raw}"`);
  }
  return Object.freeze({ points, durationSeconds });
}

/** An exact web origin: scheme://host[:port], no path, query or credentials. Returns its normal form. */
export function parseOrigin(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigValueError(`has "${raw}", which is not an origin like https://app.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigValueError(`has "${raw}": only http and https origins are allowed`);
  }
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new ConfigValueError(`has "${raw}": an origin has no path, query, fragment or credentials`);
  }
  // `https://*.example.com` parses, but no browser ever sends it: a pattern would silently match nothing.
  if (url.hostname.includes('*')) throw new ConfigValueError(`has "${raw}": wildcards are not supported; list each origin exactly`);
  if (/\/$/.test(raw.trim()) && raw.trim() !== url.origin + '/') {
    throw new ConfigValueError(`has "${raw}", which is not an origin`);
  }
  return url.origin;
}

export function isLoopbackOrigin(origin: string): boolean {
  const host = new URL(origin).hostname;
  return host === 'localhost' || host.endsWith('.localhost') || host === '127.0.0.1' || host === '[::1]';
}

export type TrustProxy =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'addresses'; readonly addresses: readonly string[] };

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const IPV4_CIDR = /^(\d{1,3})(\.\d{1,3}){3}(\/\d{1,2})?$/;
const IPV6_CIDR = /^[0-9a-f:.]+(\/\d{1,3})?$/i;

/** Unset: trust nobody. A number: trust that many hops. Else: comma-separated IPs, CIDRs or proxy-addr names. */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  if (raw === undefined || raw.trim() === '') return { kind: 'none' };
  const trimmed = raw.trim();
  if (/^\d+$/.test(trimmed)) {
    const hops = parseInteger(trimmed, 0, 32);
    return hops === 0 ? { kind: 'none' } : { kind: 'hops', hops };
  }
  if (/^(true|false|yes|no|\*)$/i.test(trimmed)) {
    throw new ConfigValueError('must be a hop count (e.g. 1) or a list of proxy IPs/CIDRs (e.g. 10.0.0.0/8,loopback), never "trust everyone"');
  }
  const addresses = trimmed.split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of addresses) {
    if (/\/0+$/.test(a)) throw new ConfigValueError(`has "${a}", which would trust every address; list your proxies' IPs or CIDRs`);
    const shaped = PROXY_NAMES.has(a) || IPV4_CIDR.test(a) || (a.includes(':') && IPV6_CIDR.test(a));
    if (!shaped || !compiles(a)) {
      throw new ConfigValueError(`has "${a}", which is neither an IP, a CIDR nor one of loopback, linklocal, uniquelocal`);
    }
  }
  return { kind: 'addresses', addresses: Object.freeze(addresses) };
}

/** The shape check lets 999.1.1.1 and /99 through; proxy-addr, which will use the value, is the judge. */
function compiles(address: string): boolean {
  try {
    proxyaddr.compile(address);
    return true;
  } catch {
    return false;
  }
}

export function parseUrl(raw: string, schemes: readonly string[], requireHost = true): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigValueError(`is not a valid URL (expected ${schemes.map((s) => s + '//…').join(' or ')})`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new ConfigValueError(`must start with ${schemes.map((s) => s + '//').join(' or ')}, got "${url.protocol}//…"`);
  }
  // A server URL names its host ("smtp://" alone would fail at the first mail, not at start-up);
  // libpq's `postgres:///db` (the local socket) is the one form without one.
  if (requireHost && url.hostname === '') throw new ConfigValueError(`must name a host (${schemes[0]}//host:port)`);
  return raw.trim();
}

/**
 * A Redis URL whose path, if any, is a database number: `redis://host/abc` would otherwise connect
 * to database 0, another deployment's, and share its keys.
 */
export function parseRedisUrl(raw: string): string {
  const url = parseUrl(raw, ['redis:', 'rediss:']);
  const path = new URL(url).pathname;
  if (path !== '' && path !== '/' && !/^\/(?:0|[1-9]\d{0,3})$/.test(path)) {
    throw new ConfigValueError(`names database "${path.slice(1)}"; the path must be a database number (redis://host:6379/0)`);
  }
  return url;
}
