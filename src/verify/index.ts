// The resource-server kit (`gatehouse/verify`): another Fastify app registers `gatehouseVerify` with
// Gatehouse's URL and gets the same requireUser / requireRoles / requireScopes guards, fed by
// Gatehouse access tokens verified against its /.well-known/jwks.json (EdDSA or ES256; RFC 9068 checks).
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { systemClock, type Clock } from '../clock.js';
import { TokenRejected } from '../crypto/access-tokens.js';
import { ServiceUnavailableError } from '../errors/http-error.js';
import { verifyJwt } from '../federation/jwks-verifier.js';
import { IssuerUnavailable } from '../federation/remote-json.js';
import { RemoteKeySet } from '../federation/remote-key-set.js';
import { authGuard, type Authenticate, type Principal } from '../plugins/auth-guard.js';
import { bearerToken, invalidToken } from '../plugins/credentials.js';

export { authGuard, firstOf } from '../plugins/auth-guard.js';
export type { Authenticate, AuthMethod, Principal } from '../plugins/auth-guard.js';

/** The `aud` of every Gatehouse access token (TOKEN_AUDIENCE in src/services/index.ts). */
export const GATEHOUSE_AUDIENCE = 'gatehouse';

export interface GatehouseVerifyOptions {
  /** Gatehouse's PUBLIC_URL: where its JWKS lives, and (by default) the `iss` of its tokens. */
  readonly gatehouseUrl: string;
  /** The `iss` to require; default `gatehouseUrl`. A Gatehouse running without PUBLIC_URL issues "gatehouse". */
  readonly issuer?: string;
  /** Default: `<gatehouseUrl>/.well-known/jwks.json`. */
  readonly jwksUrl?: string;
  /** Default: Gatehouse's own audience, "gatehouse". */
  readonly audience?: string;
  /** Pinned algorithms; default both that Gatehouse publishes keys for. HS256 tokens need the shared secret instead. */
  readonly algorithms?: readonly ('EdDSA' | 'ES256')[];
  /** Bound on each JWKS fetch (default 2000 ms): past it, requests get 503, never a hang. */
  readonly timeoutMs?: number;
  /** How long fetched keys are used (default 300 s, Gatehouse's own Cache-Control on the JWKS). */
  readonly cacheMaxAgeMs?: number;
  /** Least time between fetches prompted by unknown key ids (default 30 s). */
  readonly cooldownMs?: number;
  readonly clock?: Clock;
}

function originOf(name: string, raw: unknown): string {
  if (typeof raw !== 'string') throw new TypeError(`gatehouseVerify: option "${name}" must be a URL string`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`gatehouseVerify: option "${name}" must be a URL, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`gatehouseVerify: option "${name}" must be http(s)`);
  return raw.replace(/\/+$/, '');
}

/** An auth-guard authenticator for Gatehouse bearer tokens; options are checked here, once. */
export function gatehouseAuthenticator(options: GatehouseVerifyOptions): Authenticate {
  const gatehouseUrl = originOf('gatehouseUrl', options?.gatehouseUrl);
  if (options.issuer !== undefined && (typeof options.issuer !== 'string' || options.issuer === '')) {
    throw new TypeError('gatehouseVerify: option "issuer" must be a non-empty string');
  }
  const issuer = options.issuer ?? gatehouseUrl;
  const jwksUrl = options.jwksUrl === undefined ? `${gatehouseUrl}/.well-known/jwks.json` : originOf('jwksUrl', options.jwksUrl);
  const algorithms = [...(options.algorithms ?? ['EdDSA', 'ES256'])];
  if (algorithms.length === 0 || algorithms.some((a) => a !== 'EdDSA' && a !== 'ES256')) {
    throw new TypeError('gatehouseVerify: option "algorithms" must list EdDSA and/or ES256');
  }
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const keys = new RemoteKeySet({
    issuer, url: jwksUrl, algorithms, now,
    timeoutMs: options.timeoutMs ?? 2000, cacheMaxAgeMs: options.cacheMaxAgeMs ?? 300_000, cooldownMs: options.cooldownMs ?? 30_000,
  });
  const check = { issuer, audience: options.audience ?? GATEHOUSE_AUDIENCE, algorithms, now };

  return async (request): Promise<Principal | null> => {
    const token = bearerToken(request);
    if (token === undefined) return null;
    try {
      if (token === '' || token.length > 8192) throw new TokenRejected('empty or oversized');
      const claims = await verifyJwt(token, keys, check);
      // RFC 9068 §4: only access tokens; a refresh token is never accepted in their place.
      if (claims.type !== 'access') throw new TokenRejected('not an access token');
      if (typeof claims.sub !== 'string' || !/^\d{1,15}$/.test(claims.sub)) throw new TokenRejected('bad subject');
      if (typeof claims.sid !== 'string' || typeof claims.jti !== 'string') throw new TokenRejected('bad ids');
      const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
      const scope = typeof claims.scope === 'string' ? claims.scope : '';
      return { userId: Number(claims.sub), sessionId: claims.sid, roles, scopes: new Set(scope.split(' ').filter(Boolean)), via: 'bearer' };
    } catch (err) {
      if (err instanceof TokenRejected) {
        request.log.info({ reason: err.reason }, 'gatehouse token rejected');
        throw invalidToken();
      }
      if (err instanceof IssuerUnavailable) {
        request.log.warn({ reason: err.reason }, 'gatehouse JWKS unavailable');
        throw new ServiceUnavailableError('issuer', err);
      }
      throw err;
    }
  };
}

/**
 * Registers the auth guard on `app` with Gatehouse-token verification. Tokens stay valid here until
 * their `exp` (Gatehouse's ACCESS_TOKEN_EXPIRE_MINUTES): a logout or role change at Gatehouse reaches
 * a resource server only when the token expires.
 */
export const gatehouseVerify = fp<GatehouseVerifyOptions>(
  async (app: FastifyInstance, options) => {
    await app.register(authGuard, { authenticate: gatehouseAuthenticator(options) });
  },
  { name: 'gatehouse-verify', fastify: '5.x' },
);
