// Gatehouse's API-key authenticator for the auth guard: `X-API-Key: <key>` or `?api_key=<key>`.
// The query form exists for clients that cannot set headers; the logger redacts it from every URL
// (src/logging/redaction.ts). A key acts as its owner, within its scopes, with no session behind it.
import type { FastifyRequest } from 'fastify';
import { invalidApiKey, type ApiKeyService } from '../services/api-keys.js';
import type { Authenticate } from './auth-guard.js';

export interface ApiKeyAuthOptions {
  readonly apiKeys: Pick<ApiKeyService, 'authenticate'>;
}

/** The presented key: undefined when none was sent; '' for one that cannot be a key (empty, repeated). */
export function presentedApiKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  const query = (request.query as Record<string, unknown> | undefined)?.api_key;
  if (header === undefined && query === undefined) return undefined;
  // Two keys at once (header and query, or a repeated parameter) is ambiguous: refused, not guessed.
  if (header !== undefined && query !== undefined) return '';
  const value = header ?? query;
  return typeof value === 'string' ? value.trim() : '';
}

export function apiKeyAuthenticator(options: ApiKeyAuthOptions): Authenticate {
  if (typeof options?.apiKeys?.authenticate !== 'function') throw new TypeError('apiKeyAuthenticator: option "apiKeys" must have authenticate()');
  return async (request) => {
    const key = presentedApiKey(request);
    if (key === undefined) return null;
    if (key === '') throw invalidApiKey();
    const identity = await options.apiKeys.authenticate(key);
    return {
      userId: identity.userId,
      sessionId: undefined,
      roles: [identity.role],
      scopes: new Set(identity.scopes),
      via: 'api-key',
      apiKeyId: identity.keyId,
    };
  };
}

/**
 * Put first among the authenticators: a bearer token and an API key in one request are two
 * explicit credentials, possibly of two users — refused as ambiguous, never one picked silently.
 */
export function refuseBearerWithApiKey(): Authenticate {
  return async (request) => {
    if (request.headers.authorization !== undefined && presentedApiKey(request) !== undefined) {
      throw invalidApiKey('Send one credential: a bearer token or an API key, not both');
    }
    return null;
  };
}
