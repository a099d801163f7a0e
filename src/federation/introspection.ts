// RFC 7662 token introspection: ask the issuer whether a token is active, on every request (no cache:
// a token the issuer revokes stops working at once). The answer is checked like a JWT's claims would be.
import { TokenRejected } from '../crypto/access-tokens.js';
import { hasAudience, identityFrom } from './identity.js';
import type { IntrospectionIssuer } from './config.js';
import type { TokenVerifier } from './jwks-verifier.js';
import { callIssuer, IssuerUnavailable } from './remote-json.js';

const CLOCK_TOLERANCE_SECONDS = 30;

/** RFC 6749 §2.3.1: client id and secret are form-encoded before they are joined and base64'd. */
function basicAuth(clientId: string, clientSecret: string): string {
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

export function introspectionVerifier(issuer: IntrospectionIssuer, now: () => number): TokenVerifier {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (issuer.clientId !== undefined && issuer.clientSecret !== undefined) headers.authorization = basicAuth(issuer.clientId, issuer.clientSecret);

  return {
    async verify(token) {
      const answer = await callIssuer({
        issuer: issuer.issuer, url: issuer.introspectionUrl, timeoutMs: issuer.timeoutMs, method: 'POST', headers,
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
      // Anything but 200 is the endpoint failing us (down, or refusing our client): not a verdict on the token.
      if (answer.status !== 200) throw new IssuerUnavailable(issuer.issuer, `introspection answered ${answer.status}`);
      const body = answer.json;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new IssuerUnavailable(issuer.issuer, 'introspection answer is not a JSON object');
      const claims = body as Record<string, unknown>;

      // RFC 7662 §2.2: "active" is the only required member; everything else we insist on is our policy.
      if (claims.active !== true) throw new TokenRejected('inactive');
      if (claims.iss !== undefined && claims.iss !== issuer.issuer) throw new TokenRejected('introspected iss differs');
      // A token active for some other audience is not one the issuer meant for us (RFC 7662 §4).
      if (!hasAudience(claims.aud, issuer.audience)) throw new TokenRejected('introspected aud missing or wrong');
      const seconds = now() / 1000;
      if (claims.exp !== undefined && (typeof claims.exp !== 'number' || claims.exp + CLOCK_TOLERANCE_SECONDS <= seconds)) throw new TokenRejected('introspected exp passed');
      if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf - CLOCK_TOLERANCE_SECONDS > seconds)) throw new TokenRejected('introspected nbf ahead');
      return identityFrom(issuer, claims);
    },
  };
}
