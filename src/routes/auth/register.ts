// POST /api/v1/auth/register: a new account with the default role.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Detail, Email, FullName, NewPassword, UserOut, Username, ValidationErrorOut, userJson } from '../schemas.js';
import type { RouteOptions } from './tokens.js';

const Registration = Type.Object({
  email: Email,
  username: Username,
  password: NewPassword,
  full_name: Type.Optional(FullName),
}, { additionalProperties: false });

export const registerRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services }) => {
  app.post('/auth/register', {
    config: { rateLimit: 'auth' },
    schema: {
      tags: ['auth'], summary: 'Create an account',
      body: Registration,
      response: { 201: UserOut, 409: Detail, 422: ValidationErrorOut, 429: Detail },
    },
  }, async (request, reply) => {
    const { email, username, password, full_name } = request.body;
    const user = await services.users.register({ email, username, password, fullName: full_name ?? null });
    return reply.code(201).send(userJson(user));
  });
};
