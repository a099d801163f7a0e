// /api/v1/auth/password-reset/{request,confirm}: both count against the shared auth budget.
// The request always answers 202 with one body; the token travels only in the mailed link.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { contextOf } from '../context.js';
import { Detail, Email, NewPassword, ValidationErrorOut } from '../schemas.js';
import type { RouteOptions } from './tokens.js';

/** The one answer to every reset request, known address or not (OWASP Forgot Password Cheat Sheet). */
export const RESET_REQUESTED = Object.freeze({
  detail: 'If an account with that email exists, a password reset link has been sent to it.',
});

export const passwordResetRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services }) => {
  app.post('/auth/password-reset/request', {
    config: { rateLimit: 'auth' },
    schema: {
      tags: ['auth'], summary: 'Mail a password reset link (202 whether or not the email is known)',
      // A malformed address is a 422 (FastAPI's EmailStr); that says nothing about which accounts exist.
      body: Type.Object({ email: Email }, { additionalProperties: false }),
      response: { 202: Detail, 422: ValidationErrorOut, 429: Detail },
    },
  }, async (request, reply) => {
    await services.passwordReset.request(request.body.email, contextOf(request));
    return reply.code(202).send(RESET_REQUESTED);
  });

  app.post('/auth/password-reset/confirm', {
    config: { rateLimit: 'auth' },
    schema: {
      tags: ['auth'], summary: 'Set a new password with the token from the mail (all sessions end)',
      body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 500 }), new_password: NewPassword }, { additionalProperties: false }),
      response: { 204: Type.Null({ description: 'No Content' }), 400: Detail, 422: ValidationErrorOut, 429: Detail },
    },
  }, async (request, reply) => {
    await services.passwordReset.confirm(request.body.token, request.body.new_password, contextOf(request));
    return reply.code(204).send(null);
  });
};
