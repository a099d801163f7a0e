// Signing out for real: logout (this session), logout-all, listing and ending one's own sessions,
// and the password change (which ends every other session).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HttpError } from '../../errors/http-error.js';
import { contextOf } from '../context.js';
import { AUTH_ERRORS, BEARER, Detail, IdParams, NoFields, Password, NewPassword, SessionOut, absentBodyAsEmpty, sessionJson } from '../schemas.js';
import { CSRF_HEADER, csrfValid } from '../../plugins/csrf.js';
import { clearSessionCookies, readCookie } from '../../plugins/session-cookies.js';
import type { WebRouteOptions } from './login.js';

const NoContent = Type.Null({ description: 'No Content' });

export const sessionRoutes: FastifyPluginAsyncTypebox<WebRouteOptions> = async (app, { services, cookies }) => {
  app.post('/auth/logout', {
    // A browser whose access cookie has expired can still sign out with its refresh cookie.
    onRequest: async function logoutGuard(request, reply) {
      try {
        await app.requireUser.call(this, request, reply);
      } catch (err) {
        if (!(err instanceof HttpError && err.status === 401 && readCookie(request, cookies.names.refresh))) throw err;
      }
    },
    preValidation: absentBodyAsEmpty,
    schema: { tags: ['auth'], summary: 'End this session (and clear the session cookies)', security: BEARER, body: NoFields, response: { 204: NoContent, ...AUTH_ERRORS } },
  }, async (request, reply) => {
    const principal = await request.optionalPrincipal();
    if (principal?.via === 'api-key') throw new HttpError('API_KEY_FORBIDDEN');
    let userId: number;
    let sessionId: string;
    if (principal?.sessionId !== undefined) {
      ({ userId, sessionId } = { userId: principal.userId, sessionId: principal.sessionId });
    } else {
      const session = await services.sessions.sessionOfRefreshToken(readCookie(request, cookies.names.refresh) ?? '');
      // A refresh cookie was sent and is dead: a token given and rejected (contract: error="invalid_token").
      if (!session) throw new HttpError('INVALID_REFRESH_TOKEN', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
      const sent = request.headers[CSRF_HEADER];
      if (!csrfValid(services.derivedKeys.csrf, session.id, typeof sent === 'string' ? sent : undefined, readCookie(request, cookies.names.csrf))) {
        throw new HttpError('CSRF_FAILED');
      }
      ({ userId, sessionId } = { userId: session.userId, sessionId: session.id });
    }
    await services.sessions.logout(userId, sessionId, contextOf(request));
    // Contract: "cookies cleared" — on every logout, however it was authenticated (clearing what a
    // client may not hold costs nothing; leaving a browser's cookies behind would).
    clearSessionCookies(reply, cookies);
    return reply.code(204).send(null);
  });

  app.post('/auth/logout-all', {
    onRequest: [app.requireUser, app.requireScopes('profile:write')],
    preValidation: absentBodyAsEmpty,
    schema: { tags: ['auth'], summary: 'End every session of this user', security: BEARER, body: NoFields, response: { 204: NoContent, ...AUTH_ERRORS } },
  }, async (request, reply) => {
    if (request.principal.via === 'api-key') throw new HttpError('API_KEY_FORBIDDEN');
    await services.sessions.logoutAll(request.principal.userId, contextOf(request));
    // This browser's session ended with the others: its cookies go too, as on logout.
    clearSessionCookies(reply, cookies);
    return reply.code(204).send(null);
  });

  app.get('/auth/sessions', {
    onRequest: [app.requireUser, app.requireScopes('profile:read')],
    schema: { tags: ['auth'], summary: 'Your live sessions', security: BEARER, response: { 200: Type.Array(SessionOut), ...AUTH_ERRORS } },
  }, async (request) => {
    // Where the account is signed in (addresses, browsers) is not a script's business: sessions,
    // like keys, passwords and MFA, are managed by the person (docs/errors.md, API_KEY_FORBIDDEN).
    if (request.principal.via === 'api-key') throw new HttpError('API_KEY_FORBIDDEN');
    const { userId, sessionId } = request.principal;
    const sessions = await services.sessions.list(userId);
    return sessions.map((s) => sessionJson(s, sessionId));
  });

  app.delete('/auth/sessions/:id', {
    onRequest: [app.requireUser, app.requireScopes('profile:write')],
    preValidation: absentBodyAsEmpty,
    schema: {
      tags: ['auth'], summary: 'End one of your sessions', security: BEARER,
      params: IdParams, body: NoFields,
      response: { 204: NoContent, 404: Detail, ...AUTH_ERRORS },
    },
  }, async (request, reply) => {
    if (request.principal.via === 'api-key') throw new HttpError('API_KEY_FORBIDDEN');
    await services.sessions.remove(request.principal.userId, request.params.id, contextOf(request));
    return reply.code(204).send(null);
  });

  app.post('/auth/password', {
    onRequest: [app.requireUser, app.requireScopes('profile:write')],
    schema: {
      tags: ['auth'], summary: 'Change your password (every other session ends)', security: BEARER,
      body: Type.Object({ current_password: Password, new_password: NewPassword }, { additionalProperties: false }),
      response: { 204: NoContent, ...AUTH_ERRORS },
    },
  }, async (request, reply) => {
    const { userId, sessionId, via } = request.principal;
    // An API key can never change a password (contract: API keys).
    if (via === 'api-key') throw new HttpError('API_KEY_FORBIDDEN');
    await services.users.changePassword(userId, sessionId, request.body.current_password, request.body.new_password, contextOf(request));
    return reply.code(204).send(null);
  });
};
