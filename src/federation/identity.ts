// What a verified external token says about its holder, read the same way from a JWT's claims and
// from an introspection answer (RFC 7662 §2.2 uses the JWT claim names). Nothing else is trusted:
// roles, scopes and groups from another issuer mean nothing here.
import { TokenRejected } from '../crypto/access-tokens.js';
import type { ExternalIssuer } from './config.js';

export interface ExternalIdentity {
  readonly issuer: ExternalIssuer;
  /** `sub`: unique and never reassigned within its issuer (OIDC Core §5.7), so the link key. */
  readonly subject: string;
  readonly email: string | undefined;
  /** Only an issuer's explicit `email_verified: true` counts (OIDC Core §5.1). */
  readonly emailVerified: boolean;
  readonly preferredUsername: string | undefined;
  readonly name: string | undefined;
}

function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

/** `aud` is a string or an array of strings (RFC 7519 §4.1.3); ours must be among them. */
export function hasAudience(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}

/** The identity in `claims`; throws TokenRejected when they name no usable subject. */
export function identityFrom(issuer: ExternalIssuer, claims: Record<string, unknown>): ExternalIdentity {
  // The external_identities.subject column holds 255 characters; OIDC caps sub there too.
  const subject = text(claims.sub, 255);
  if (subject === undefined) throw new TokenRejected('missing or oversized sub');
  const verified = claims.email_verified;
  return {
    issuer,
    subject,
    email: text(claims.email, 320),
    // Some issuers (Cognito, older ADFS) send the string "true".
    emailVerified: verified === true || verified === 'true',
    preferredUsername: text(claims.preferred_username, 200) ?? text(claims.username, 200),
    name: text(claims.name, 200),
  };
}
