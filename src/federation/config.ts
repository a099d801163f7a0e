// Trusted external token issuers from the environment: EXTERNAL_ISSUERS names them, and each name's
// EXTERNAL_ISSUER_<NAME>_* variables say what `iss` and `aud` to expect and where its keys (JWKS) or
// its verdicts (RFC 7662 introspection) come from. Every bad variable is one line naming it.
import { ConfigValueError, isLoopbackOrigin, parseInteger } from '../config/parsers.js';

/**
 * Asymmetric JWS algorithms only (RFC 7518 §3): a JWKS is public, so an `oct` (HMAC) key in one would
 * let anyone sign. `none` is never a choice (RFC 8725 §3.1).
 */
export const EXTERNAL_ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;
export type ExternalAlgorithm = (typeof EXTERNAL_ALGORITHMS)[number];

interface IssuerCommon {
  /** The name in EXTERNAL_ISSUERS (lower case), for logs. */
  readonly name: string;
  /** The exact `iss` (RFC 7519 §4.1.1: compared as a case-sensitive string). */
  readonly issuer: string;
  /** The `aud` value a token must carry to be meant for us (RFC 7519 §4.1.3). */
  readonly audience: string;
  /** Link a first-seen identity to an existing user with the same, issuer-verified email. */
  readonly linkByEmail: boolean;
  /** Whether users signed in through this issuer may hold the `admin` scope (default: never). */
  readonly allowAdmin: boolean;
  /** Bound on every call to the issuer (connect, headers and body). */
  readonly timeoutMs: number;
}

export interface JwksIssuer extends IssuerCommon {
  readonly kind: 'jwks';
  readonly jwksUrl: string;
  /** The only algorithms accepted in this issuer's tokens (RFC 8725 §3.1). */
  readonly algorithms: readonly ExternalAlgorithm[];
  /** How long fetched keys are trusted before they are fetched again. */
  readonly cacheMaxAgeMs: number;
  /** Least time between two fetches prompted by an unknown `kid` (so junk kids cannot make us hammer the issuer). */
  readonly cooldownMs: number;
}

export interface IntrospectionIssuer extends IssuerCommon {
  readonly kind: 'introspection';
  readonly introspectionUrl: string;
  /** RFC 7662 §2.1: the resource server authenticates to the endpoint (HTTP Basic, RFC 6749 §2.3.1). */
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
  /** Non-JWT bearer tokens (which name no issuer) are sent to this issuer. At most one issuer. */
  readonly opaqueTokens: boolean;
}

export type ExternalIssuer = JwksIssuer | IntrospectionIssuer;

type Env = Readonly<Record<string, string | undefined>>;

const SUFFIXES = [
  'ISSUER', 'AUDIENCE', 'JWKS_URL', 'ALGORITHMS', 'INTROSPECTION_URL', 'CLIENT_ID', 'CLIENT_SECRET',
  'OPAQUE_TOKENS', 'LINK_BY_EMAIL', 'ALLOW_ADMIN',
] as const;

/** An http(s) URL; https in production unless it is on this machine. */
function issuerUrl(raw: string, isProduction: boolean): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigValueError(`must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigValueError(`must be an http(s) URL, got "${raw}"`);
  if (url.username || url.password) throw new ConfigValueError('must not carry credentials in the URL');
  if (isProduction && url.protocol === 'http:' && !isLoopbackOrigin(url.origin)) throw new ConfigValueError('must use https in production');
  return raw;
}

function flag(raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigValueError(`must be true or false, got "${raw}"`);
}

function algorithms(raw: string): ExternalAlgorithm[] {
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new ConfigValueError('must list at least one algorithm');
  for (const name of names) {
    if (!(EXTERNAL_ALGORITHMS as readonly string[]).includes(name)) {
      throw new ConfigValueError(`has "${name}"; allowed: ${EXTERNAL_ALGORITHMS.join(', ')} (never HS* or none: keys come from a public JWKS)`);
    }
  }
  return [...new Set(names)] as ExternalAlgorithm[];
}

/**
 * Reads EXTERNAL_ISSUERS and every EXTERNAL_ISSUER_<NAME>_* variable; pushes one line per problem.
 * `ownIssuer` is the `iss` of Gatehouse's own tokens (PUBLIC_URL, or "gatehouse"): an external issuer may not claim it.
 */
export function readExternalIssuers(env: Env, context: { isProduction: boolean; ownIssuer: string }, problems: string[]): ExternalIssuer[] {
  const listed = (env.EXTERNAL_ISSUERS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const names: string[] = [];
  for (const name of listed) {
    if (!/^[A-Za-z][A-Za-z0-9]{0,31}$/.test(name)) problems.push(`EXTERNAL_ISSUERS has "${name}"; a name is 1–32 letters and digits, starting with a letter`);
    else if (names.includes(name.toUpperCase())) problems.push(`EXTERNAL_ISSUERS names "${name}" twice`);
    else names.push(name.toUpperCase());
  }
  // A typo (EXTERNAL_ISSUER_PEER_AUDEINCE) or a forgotten EXTERNAL_ISSUERS entry would silently change trust.
  for (const key of Object.keys(env)) {
    const match = /^EXTERNAL_ISSUER_([A-Z0-9]+)_(.+)$/.exec(key);
    if (!match || env[key] === undefined || env[key] === '') continue;
    if (!names.includes(match[1]!)) problems.push(`${key} is set but "${match[1]!.toLowerCase()}" is not listed in EXTERNAL_ISSUERS`);
    else if (!(SUFFIXES as readonly string[]).includes(match[2]!)) problems.push(`${key} is not a known setting (known: ${SUFFIXES.join(', ')})`);
  }

  function int(name: string, fallback: number, min: number, max: number): number {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    try {
      return parseInteger(raw, min, max);
    } catch (err) {
      problems.push(`${name} ${(err as Error).message}`);
      return fallback;
    }
  }
  const timeoutMs = int('EXTERNAL_ISSUERS_TIMEOUT_MS', 2000, 100, 10_000);
  const cacheMaxAgeMs = int('EXTERNAL_ISSUERS_JWKS_CACHE_SECONDS', 300, 1, 86_400) * 1000;
  const cooldownMs = int('EXTERNAL_ISSUERS_JWKS_COOLDOWN_SECONDS', 30, 0, 3600) * 1000;

  const issuers: ExternalIssuer[] = [];
  for (const name of names) {
    const prefix = `EXTERNAL_ISSUER_${name}_`;
    const before = problems.length;
    const setting = <T>(suffix: string, parse: (raw: string) => T): T | undefined => {
      const raw = env[prefix + suffix];
      if (raw === undefined || raw.trim() === '') return undefined;
      try {
        return parse(raw.trim());
      } catch (err) {
        if (!(err instanceof ConfigValueError)) throw err;
        problems.push(`${prefix}${suffix} ${err.message}`);
        return undefined;
      }
    };
    const required = <T>(suffix: string, value: T | undefined, why: string): T | undefined => {
      if (value === undefined && env[prefix + suffix] === undefined) problems.push(`${prefix}${suffix} must be set (${why})`);
      return value;
    };

    const issuer = required('ISSUER', setting('ISSUER', (raw) => {
      issuerUrl(raw, context.isProduction);
      if (raw.replace(/\/+$/, '') === context.ownIssuer) throw new ConfigValueError('must not be Gatehouse\'s own token issuer (PUBLIC_URL)');
      return raw;
    }), 'the exact "iss" of its tokens');
    const audience = required('AUDIENCE', setting('AUDIENCE', (raw) => raw), 'the "aud" its tokens carry for this server');
    const jwksUrl = setting('JWKS_URL', (raw) => issuerUrl(raw, context.isProduction));
    const introspectionUrl = setting('INTROSPECTION_URL', (raw) => issuerUrl(raw, context.isProduction));
    const algs = setting('ALGORITHMS', algorithms);
    const clientId = setting('CLIENT_ID', (raw) => raw);
    const clientSecret = setting('CLIENT_SECRET', (raw) => raw);
    const opaqueTokens = setting('OPAQUE_TOKENS', flag) ?? false;
    const linkByEmail = setting('LINK_BY_EMAIL', flag) ?? false;
    const allowAdmin = setting('ALLOW_ADMIN', flag) ?? false;

    const given = (suffix: string) => Boolean(env[prefix + suffix]?.trim());
    if (given('JWKS_URL') === given('INTROSPECTION_URL')) {
      problems.push(`${prefix}JWKS_URL or ${prefix}INTROSPECTION_URL must be set, exactly one of them`);
    } else if (given('JWKS_URL')) {
      if (!given('ALGORITHMS')) problems.push(`${prefix}ALGORITHMS must be set with JWKS_URL (e.g. EdDSA or RS256): algorithms are pinned per issuer`);
      for (const s of ['CLIENT_ID', 'CLIENT_SECRET', 'OPAQUE_TOKENS'] as const) if (given(s)) problems.push(`${prefix}${s} applies only with INTROSPECTION_URL`);
    } else {
      if (given('ALGORITHMS')) problems.push(`${prefix}ALGORITHMS applies only with JWKS_URL (introspected tokens are not verified locally)`);
      if (given('CLIENT_ID') !== given('CLIENT_SECRET')) problems.push(`${prefix}CLIENT_ID and ${prefix}CLIENT_SECRET must be set together`);
    }
    if (issuer && issuers.some((i) => i.issuer === issuer)) problems.push(`${prefix}ISSUER repeats the issuer of another entry of EXTERNAL_ISSUERS`);
    if (problems.length > before || !issuer || !audience) continue;

    const common = { name: name.toLowerCase(), issuer, audience, linkByEmail, allowAdmin, timeoutMs };
    issuers.push(jwksUrl
      ? Object.freeze({ ...common, kind: 'jwks' as const, jwksUrl, algorithms: Object.freeze(algs!), cacheMaxAgeMs, cooldownMs })
      : Object.freeze({ ...common, kind: 'introspection' as const, introspectionUrl: introspectionUrl!, clientId, clientSecret, opaqueTokens }));
  }
  if (issuers.filter((i) => i.kind === 'introspection' && i.opaqueTokens).length > 1) {
    problems.push('EXTERNAL_ISSUERS: OPAQUE_TOKENS may be true for one issuer only (an opaque token names no issuer to choose by)');
  }
  return issuers;
}
