// The auth guard's authenticator for bearer tokens of configured external issuers (RFC 6750). It runs
// before Gatehouse's own: a token whose unverified `iss` is no configured external issuer gets null
// and goes on to the next authenticator (which refuses any issuer but Gatehouse with a 401).
import { TokenRejected } from '../crypto/access-tokens.js';
import { ServiceUnavailableError } from '../errors/http-error.js';
import { IssuerUnavailable, type Federation } from '../federation/index.js';
import { scopesForRole } from '../services/scopes.js';
import type { Authenticate, Principal } from './auth-guard.js';
import { bearerToken, invalidToken } from './credentials.js';

export interface ExternalBearerOptions {
  readonly federation: Federation;
}

export function externalBearerAuthenticator(options: ExternalBearerOptions): Authenticate {
  const { federation } = options;
  if (!federation || typeof federation.verifierFor !== 'function') {
    throw new TypeError('externalBearerAuthenticator: option "federation" must be a Federation');
  }
  return async (request): Promise<Principal | null> => {
    if (!federation.enabled) return null;
    const token = bearerToken(request);
    if (!token) return null;
    const verifier = federation.verifierFor(token);
    if (!verifier) return null;
    try {
      const { user, identity } = await federation.signIn(verifier, token);
      // Gatehouse decides what the user may do, from the user's role here and now (a role change or
      // deactivation applies at once); the issuer's roles or scopes are not ours to honour.
      const scopes = scopesForRole(user.role).filter((s) => s !== 'admin' || identity.issuer.allowAdmin);
      return { userId: user.id, sessionId: undefined, roles: [user.role], scopes: new Set(scopes), via: 'external' };
    } catch (err) {
      if (err instanceof TokenRejected) {
        request.log.info({ reason: err.reason }, 'external token rejected');
        throw invalidToken();
      }
      if (err instanceof IssuerUnavailable) {
        request.log.warn({ issuer: err.issuer, reason: err.reason }, 'external issuer unavailable');
        throw new ServiceUnavailableError('issuer', err);
      }
      throw err;
    }
  };
}
