// Federation: the configured external issuers, each with its verifier, and the mapping of their
// identities to local users. Picks the issuer of a bearer token by its (not yet verified) `iss`, so
// tokens of other issuers, Gatehouse's own included, are left to the next authenticator.
import { KEY_MARK } from '../crypto/api-keys.js';
import type { Storage, User } from '../storage/index.js';
import { ExternalUsers } from './external-users.js';
import type { ExternalIdentity } from './identity.js';
import { introspectionVerifier } from './introspection.js';
import type { ExternalIssuer } from './config.js';
import { jwksVerifier, type TokenVerifier } from './jwks-verifier.js';

export type { ExternalIssuer } from './config.js';
export { IssuerUnavailable } from './remote-json.js';

export interface FederationOptions {
  readonly issuers: readonly ExternalIssuer[];
  readonly storage: Storage;
  readonly now: () => number;
  readonly log: { info(obj: object, msg: string): void };
}

export interface ExternalSignIn {
  readonly user: User;
  readonly identity: ExternalIdentity;
}

export interface Federation {
  /** True when at least one external issuer is configured. */
  readonly enabled: boolean;
  /** The verifier for `token`, or undefined when it is not an external issuer's to judge. */
  verifierFor(token: string): TokenVerifier | undefined;
  /** Verifies the token and maps its identity to a local user (created on first use). */
  signIn(verifier: TokenVerifier, token: string): Promise<ExternalSignIn>;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;
/** Bigger than any sane access token; a bigger "token" is refused before anything is decoded. */
export const MAX_TOKEN_LENGTH = 8192;

/** The `iss` of a JWT-shaped token, read without verifying anything (only to choose a verifier). */
export function unverifiedIssuer(token: string): string | undefined {
  const match = JWT_SHAPE.exec(token);
  if (!match) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(match[1]!, 'base64url').toString('utf8')) as { iss?: unknown };
    return typeof payload?.iss === 'string' ? payload.iss : undefined;
  } catch {
    return undefined;
  }
}

export function createFederation(options: FederationOptions): Federation {
  const byIssuer = new Map<string, TokenVerifier>();
  let opaque: TokenVerifier | undefined;
  for (const issuer of options.issuers) {
    const verifier = issuer.kind === 'jwks' ? jwksVerifier(issuer, options.now) : introspectionVerifier(issuer, options.now);
    byIssuer.set(issuer.issuer, verifier);
    if (issuer.kind === 'introspection' && issuer.opaqueTokens) opaque = verifier;
  }
  const users = new ExternalUsers({ storage: options.storage, now: options.now, log: options.log });

  return {
    enabled: byIssuer.size > 0,
    verifierFor(token) {
      if (byIssuer.size === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
      // Gatehouse's own API keys (gk_…) are never handed to another party, whatever header they came in.
      if (!JWT_SHAPE.test(token)) return token.startsWith(KEY_MARK) ? undefined : opaque;
      const iss = unverifiedIssuer(token);
      return iss === undefined ? undefined : byIssuer.get(iss);
    },
    async signIn(verifier, token) {
      const identity = await verifier.verify(token);
      return { user: await users.resolve(identity), identity };
    },
  };
}
