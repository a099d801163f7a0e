// /api/v1/auth/mfa/totp/{setup,enable,disable}: TOTP two-factor sign-in for the signed-in user.
// Responses carrying the secret or recovery codes are no-store; an API key can never manage MFA.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { contextOf } from '../context.js';
import { rejectApiKeys } from '../api-keys.js';
import { AUTH_ERRORS, BEARER, Detail, NoFields, Password, absentBodyAsEmpty } from '../schemas.js';
import type { RouteOptions } from './tokens.js';

const Code = Type.String({ minLength: 1, maxLength: 64, description: 'A 6-digit TOTP code (disable: or a recovery code)' });

function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

export const mfaRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services }) => {
  const guard = [app.requireUser, rejectApiKeys, app.requireScopes('profile:write')];

  app.post('/auth/mfa/totp/setup', {
    onRequest: guard,
    preValidation: absentBodyAsEmpty,
    schema: {
      tags: ['mfa'], summary: 'Start TOTP setup: a new secret, pending until enabled (MFA stays as it is)', security: BEARER,
      body: NoFields,
      response: { 200: Type.Object({ secret: Type.String(), otpauth_url: Type.String() }), ...AUTH_ERRORS },
    },
  }, async (request, reply) => {
    const setup = await services.mfa.setup(request.principal.userId);
    noStore(reply);
    return { secret: setup.secret, otpauth_url: setup.otpauthUrl };
  });

  app.post('/auth/mfa/totp/enable', {
    onRequest: guard,
    schema: {
      tags: ['mfa'],
      summary: 'Confirm the pending secret with a code: MFA on, ten recovery codes (shown once)',
      description: 'While MFA is already on, switching to the new secret also needs `current_code`: a code of the authenticator in force, or a recovery code.',
      security: BEARER,
      body: Type.Object({ code: Code, current_code: Type.Optional(Code) }, { additionalProperties: false }),
      response: { 200: Type.Object({ recovery_codes: Type.Array(Type.String()) }), 400: Detail, 409: Detail, 429: Detail, ...AUTH_ERRORS },
    },
  }, async (request, reply) => {
    const codes = await services.mfa.enable(request.principal.userId, request.body.code, contextOf(request), request.body.current_code);
    noStore(reply);
    return { recovery_codes: codes };
  });

  app.post('/auth/mfa/totp/disable', {
    onRequest: guard,
    schema: {
      tags: ['mfa'], summary: 'Turn MFA off (needs the password and a TOTP or recovery code)', security: BEARER,
      body: Type.Object({ password: Password, code: Code }, { additionalProperties: false }),
      response: { 204: Type.Null({ description: 'No Content' }), 409: Detail, 429: Detail, ...AUTH_ERRORS },
    },
  }, async (request, reply) => {
    await services.mfa.disable(request.principal.userId, request.body.password, request.body.code, contextOf(request));
    return reply.code(204).send(null);
  });
};
