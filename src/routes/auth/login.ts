// POST /api/v1/auth/login: the browser sign-in. Same checks as the token endpoint; the tokens go
// into HttpOnly cookies, and the body carries only the user and the CSRF token.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { csrfTokenFor } from '../../plugins/csrf.js';
import { setSessionCookies, type SessionCookieSettings } from '../../plugins/session-cookies.js';
import type { Services } from '../../services/index.js';
import { EVERY_SCOPE_OF_ROLE } from '../../services/scopes.js';
import type { IssuedTokens } from '../../services/sessions.js';
import { contextOf } from '../context.js';
import { Detail, UserOut, ValidationErrorOut, userJson } from '../schemas.js';

export interface WebRouteOptions {
  readonly services: Services;
  readonly cookies: SessionCookieSettings;
}

/** Puts a fresh pair into the session cookies; returns the CSRF token bound to the session. */
export function deliverToBrowser(reply: FastifyReply, options: WebRouteOptions, issued: IssuedTokens): string {
  const csrfToken = csrfTokenFor(options.services.derivedKeys.csrf, issued.session.id);
  setSessionCookies(reply, options.cookies, {
    accessToken: issued.accessToken, accessMaxAgeSeconds: issued.expiresIn,
    refreshToken: issued.refreshToken, refreshMaxAgeSeconds: issued.refreshExpiresIn, csrfToken,
  });
  reply.header('cache-control', 'no-store');
  return csrfToken;
}

const Login = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 320 }),
  password: Type.String({ maxLength: 1024 }),
  otp: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: false });

export const loginRoutes: FastifyPluginAsyncTypebox<WebRouteOptions> = async (app, options) => {
  const { services } = options;
  app.post('/auth/login', {
    config: { rateLimit: 'auth' },
    schema: {
      tags: ['auth'], summary: 'Browser sign-in: sets the session cookies',
      body: Login,
      response: { 200: Type.Object({ user: UserOut, csrf_token: Type.String() }), 401: Detail, 403: Detail, 422: ValidationErrorOut, 429: Detail },
    },
  }, async (request, reply) => {
    const ctx = contextOf(request);
    const user = await services.authentication.authenticate(request.body.username, request.body.password, request.body.otp, ctx);
    const issued = await services.sessions.start(user, 'browser', EVERY_SCOPE_OF_ROLE, ctx);
    const csrf_token = deliverToBrowser(reply, options, issued);
    return { user: userJson(issued.user), csrf_token };
  });
};
