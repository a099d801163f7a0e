// POST /api/v1/auth/token (OAuth2 password and refresh_token grants, RFC 6749 §4.3 and §6) and
// POST /api/v1/auth/refresh (JSON). Every response that carries tokens is `no-store`.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { HttpError } from '../../errors/http-error.js';
import { FORM_ONLY } from '../../plugins/content-types.js';
import { CSRF_HEADER, csrfValid } from '../../plugins/csrf.js';
import { readCookie } from '../../plugins/session-cookies.js';
import type { Services } from '../../services/index.js';
import { grantScopes } from '../../services/scopes.js';
import type { IssuedTokens } from '../../services/sessions.js';
import { contextOf } from '../context.js';
import { Detail, TokenOut, ValidationErrorOut, absentBodyAsEmpty } from '../schemas.js';
import { deliverToBrowser, type WebRouteOptions } from './login.js';
import { multipartFields } from '../../plugins/multipart-fields.js';

export interface RouteOptions {
  readonly services: Services;
}

/**
 * Room for an access token sent in a refresh token's place (up to the 4 KiB any JWT may have here):
 * that mistake or attack is a 401 like any dead refresh token (contract), not a 422 about its length.
 */
const REFRESH_FIELD_MAX = 4096;

// Defaults as FastAPI's OAuth2PasswordRequestForm has them: the docs page's "Try it out" then
// sends `grant_type=password` and empty optional fields, not its placeholder "string" in each.
const TokenForm = Type.Object({
  grant_type: Type.Optional(Type.String({ maxLength: 50, default: 'password', description: '`password` or `refresh_token`' })),
  username: Type.Optional(Type.String({ maxLength: 320 })),
  password: Type.Optional(Type.String({ maxLength: 1024 })),
  scope: Type.Optional(Type.String({ maxLength: 500, default: '', description: 'space-separated; empty: every scope the role allows (password grant) or the session holds (refresh grant, which may ask for fewer, never more)' })),
  otp: Type.Optional(Type.String({ maxLength: 64, default: '' })),
  refresh_token: Type.Optional(Type.String({ maxLength: REFRESH_FIELD_MAX, default: '' })),
  // Sent (usually empty) by generic OAuth2 clients such as the docs page; public clients need none.
  client_id: Type.Optional(Type.String({ maxLength: 200, default: '' })),
  client_secret: Type.Optional(Type.String({ maxLength: 200, default: '' })),
  // RFC 6749 §3.2: "The authorization server MUST ignore unrecognized request parameters" (OAuth2
  // clients add `audience`, `resource`, `nonce`…), as FastAPI's OAuth2PasswordRequestForm does.
  // Nothing here is assigned from the form, so an ignored `role=admin` is applied nowhere.
}, { additionalProperties: true });

const TOKEN_RESPONSES = { 200: TokenOut, 400: Detail, 401: Detail, 403: Detail, 422: ValidationErrorOut, 429: Detail };

export function sendTokens(reply: FastifyReply, issued: IssuedTokens) {
  // RFC 6749 §5.1: token responses must not be cached.
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  return {
    access_token: issued.accessToken, refresh_token: issued.refreshToken, token_type: 'bearer' as const,
    expires_in: issued.expiresIn, scope: issued.scope,
  };
}

function missing(...fields: string[]): HttpError {
  return new HttpError('VALIDATION_FAILED', { issues: fields.map((field) => ({ loc: ['body', field], msg: 'Field required', type: 'missing' })) });
}

const BrowserRefreshOut = Type.Object({ token_type: Type.Literal('bearer'), expires_in: Type.Integer(), csrf_token: Type.String() });

export const tokenRoutes: FastifyPluginAsyncTypebox<WebRouteOptions> = async (app, options) => {
  const { services, cookies } = options;
  // FastAPI's OAuth2PasswordRequestForm reads multipart/form-data too (what a browser's FormData
  // sends): fields only, few and short — this context's routes only (plugin encapsulation).
  // A value cut at REFRESH_FIELD_MAX + 1 bytes is still longer than any field's maxLength: a 422.
  await app.register(multipartFields, { maxFieldBytes: REFRESH_FIELD_MAX + 1 });
  app.post('/auth/token', {
    config: { consumes: [...FORM_ONLY, 'multipart/form-data'], rateLimit: 'auth' },
    schema: {
      tags: ['auth'], summary: 'OAuth2 token endpoint (password and refresh_token grants)',
      consumes: ['application/x-www-form-urlencoded', 'multipart/form-data'], body: TokenForm, response: TOKEN_RESPONSES,
    },
  }, async (request, reply) => {
    const form = request.body;
    const ctx = contextOf(request);
    // FastAPI's form fields read an empty value as no value: `username=` is "Field required" too.
    const grant = form.grant_type || 'password';
    if (grant === 'refresh_token') {
      if (!form.refresh_token) throw missing('refresh_token');
      return sendTokens(reply, await services.sessions.refresh(form.refresh_token, ctx, { scope: form.scope }));
    }
    if (grant !== 'password') throw new HttpError('UNSUPPORTED_GRANT_TYPE', { extra: { error: 'unsupported_grant_type' } });
    const { username, password } = form;
    if (!username || !password) throw missing(...(username ? [] : ['username']), ...(password ? [] : ['password']));
    const user = await services.authentication.authenticate(username, password, form.otp, ctx);
    const scopes = grantScopes(form.scope, user.role);
    return sendTokens(reply, await services.sessions.start(user, 'token', scopes, ctx));
  });

  app.post('/auth/refresh', {
    // No body at all is allowed (the browser sends the refresh cookie instead); the schema then sees `{}`.
    preValidation: absentBodyAsEmpty,
    schema: {
      tags: ['auth'],
      summary: 'Exchange a refresh token for a new pair (the old one dies). With the refresh cookie, the pair goes back into cookies and needs X-CSRF-Token.',
      body: Type.Optional(Type.Object({ refresh_token: Type.Optional(Type.String({ maxLength: REFRESH_FIELD_MAX })) }, { additionalProperties: false })),
      response: { ...TOKEN_RESPONSES, 200: Type.Union([TokenOut, BrowserRefreshOut]) },
    },
  }, async (request, reply) => {
    const fromBody = request.body?.refresh_token;
    if (fromBody) return sendTokens(reply, await services.sessions.refresh(fromBody, contextOf(request)));
    const fromCookie = readCookie(request, cookies.names.refresh);
    if (!fromCookie) throw new HttpError('INVALID_REFRESH_TOKEN', { extra: { error: 'invalid_grant' } });
    const sent = request.headers[CSRF_HEADER];
    const issued = await services.sessions.refresh(fromCookie, contextOf(request), {
      checkSession: (session) => {
        if (!csrfValid(services.derivedKeys.csrf, session.id, typeof sent === 'string' ? sent : undefined, readCookie(request, cookies.names.csrf))) {
          throw new HttpError('CSRF_FAILED');
        }
      },
    });
    // The refresh token stays in its HttpOnly cookie: page scripts never see it.
    const csrf_token = deliverToBrowser(reply, options, issued);
    return { token_type: 'bearer' as const, expires_in: issued.expiresIn, csrf_token };
  });
};
