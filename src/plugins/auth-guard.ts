// Guards as a public API: `requireUser`, `requireRoles(...)`, `requireScopes(...)` as route hooks
// any Fastify app can use. How a request is authenticated is the `authenticate` option (Gatehouse
// passes its bearer / cookie / API-key authenticator; the resource-server kit passes a JWKS one).
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../errors/http-error.js';

export type AuthMethod = 'bearer' | 'cookie' | 'api-key' | 'external';

export interface Principal {
  readonly userId: number;
  /** The session behind a bearer or cookie token; absent for API keys. */
  readonly sessionId: string | undefined;
  readonly roles: readonly string[];
  readonly scopes: ReadonlySet<string>;
  readonly via: AuthMethod;
  readonly apiKeyId?: string;
}

/** Resolves the request's principal; null when no credentials were sent; throws HttpError when they are bad. */
export type Authenticate = (request: FastifyRequest) => Promise<Principal | null>;

/** Tries each authenticator in order; the first that finds credentials decides (a bad credential is not skipped). */
export function firstOf(...authenticators: readonly Authenticate[]): Authenticate {
  return async (request) => {
    for (const authenticate of authenticators) {
      const principal = await authenticate(request);
      if (principal) return principal;
    }
    return null;
  };
}

export interface AuthGuardOptions {
  readonly authenticate: Authenticate;
}

const PRINCIPAL = Symbol('gatehouse.principal');

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller. Only on routes guarded by requireUser / requireRoles / requireScopes. */
    readonly principal: Principal;
    /** The caller if they sent valid credentials, else null (for pages that work either way). */
    optionalPrincipal(): Promise<Principal | null>;
    [PRINCIPAL]: Principal | null | undefined;
  }
  interface FastifyInstance {
    /** 401 unless the request carries valid credentials. */
    requireUser: onRequestAsyncHookHandler;
    /** 401 without credentials; 403 "Insufficient permissions" without one of the roles. */
    requireRoles(...roles: string[]): onRequestAsyncHookHandler;
    /** 401 without credentials; 403 "Insufficient scope" without every scope. */
    requireScopes(...scopes: string[]): onRequestAsyncHookHandler;
  }
}

const SCOPES_OF_GUARD = new WeakMap<object, readonly string[]>();

/** The scopes a `requireScopes(...)` hook demands (the OpenAPI document lists them per operation); undefined for any other hook. */
export function scopesRequiredBy(hook: unknown): readonly string[] | undefined {
  return typeof hook === 'function' ? SCOPES_OF_GUARD.get(hook) : undefined;
}

export const authGuard = fp<AuthGuardOptions>(
  async (app: FastifyInstance, options) => {
    if (typeof options.authenticate !== 'function') throw new TypeError('authGuard: option "authenticate" must be a function');

    app.decorateRequest(PRINCIPAL, undefined);
    app.decorateRequest('principal', {
      getter(this: FastifyRequest) {
        const principal = this[PRINCIPAL];
        if (!principal) throw new TypeError('request.principal read on a route without requireUser');
        return principal;
      },
    });
    app.decorateRequest('optionalPrincipal', async function optionalPrincipal(this: FastifyRequest) {
      if (this[PRINCIPAL] === undefined) {
        try {
          this[PRINCIPAL] = await options.authenticate(this);
        } catch {
          this[PRINCIPAL] = null;
        }
      }
      return this[PRINCIPAL] ?? null;
    });

    async function authenticated(request: FastifyRequest): Promise<Principal> {
      let principal = request[PRINCIPAL];
      if (principal === undefined || principal === null) {
        principal = await options.authenticate(request);
        request[PRINCIPAL] = principal;
      }
      if (!principal) throw new HttpError('NOT_AUTHENTICATED');
      return principal;
    }

    const requireUser: onRequestAsyncHookHandler = async function requireUser(request) {
      await authenticated(request);
    };
    app.decorate('requireUser', requireUser);
    app.decorate('requireRoles', (...roles: string[]): onRequestAsyncHookHandler => async (request) => {
      const principal = await authenticated(request);
      if (!roles.some((r) => principal.roles.includes(r))) throw new HttpError('INSUFFICIENT_PERMISSIONS');
    });
    app.decorate('requireScopes', (...scopes: string[]): onRequestAsyncHookHandler => {
      const guard: onRequestAsyncHookHandler = async (request) => {
        const principal = await authenticated(request);
        if (scopes.every((s) => principal.scopes.has(s))) return;
        // RFC 6750 §3.1: the challenge names the error and the scope the route needs.
        throw new HttpError('INSUFFICIENT_SCOPE', { headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${scopes.join(' ')}"` } });
      };
      SCOPES_OF_GUARD.set(guard, scopes);
      return guard;
    });
  },
  { name: 'gatehouse-auth-guard', fastify: '5.x' },
);
