// Verifies a JWT from an external issuer against that issuer's JWKS: signature with a pinned
// algorithm and a configured key only, exact `iss`, our `aud`, and a live `exp` on the injected clock.
import { errors as joseErrors, jwtVerify } from 'jose';
import { TokenRejected, isCanonicalJwt } from '../crypto/access-tokens.js';
import { identityFrom, type ExternalIdentity } from './identity.js';
import type { JwksIssuer } from './config.js';
import { RemoteKeySet } from './remote-key-set.js';

/** Leeway for clocks that disagree a little (RFC 7519 §4.1.4 "some small leeway"). */
const CLOCK_TOLERANCE_SECONDS = 30;

export interface TokenVerifier {
  /** The verified identity; throws TokenRejected (→ 401) or IssuerUnavailable (→ 503). */
  verify(token: string): Promise<ExternalIdentity>;
}

/** A JWKS-backed verifier for any issuer and audience; the resource-server kit uses it too. */
export interface JwtCheck {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  readonly now: () => number;
}

/** Signature and registered claims; returns the payload. jose errors become TokenRejected. */
export async function verifyJwt(token: string, keys: RemoteKeySet, check: JwtCheck): Promise<Record<string, unknown>> {
  // One token, one spelling (as for Gatehouse's own, crypto/access-tokens.ts).
  if (!isCanonicalJwt(token)) throw new TokenRejected('not canonical base64url');
  try {
    const { payload } = await jwtVerify(token, (header) => keys.keyFor(header), {
      algorithms: [...check.algorithms],
      issuer: check.issuer,
      audience: check.audience,
      currentDate: new Date(check.now()),
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'sub', 'iss', 'aud'],
    });
    return payload as Record<string, unknown>;
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) throw new TokenRejected(`${err.code}${'claim' in err ? ` (${String(err.claim)})` : ''}`);
    throw err;
  }
}

export function jwksVerifier(issuer: JwksIssuer, now: () => number): TokenVerifier {
  const keys = new RemoteKeySet({
    issuer: issuer.issuer, url: issuer.jwksUrl, algorithms: issuer.algorithms,
    timeoutMs: issuer.timeoutMs, cacheMaxAgeMs: issuer.cacheMaxAgeMs, cooldownMs: issuer.cooldownMs, now,
  });
  const check = { issuer: issuer.issuer, audience: issuer.audience, algorithms: issuer.algorithms, now };
  return {
    async verify(token) {
      return identityFrom(issuer, await verifyJwt(token, keys, check));
    },
  };
}
