// GET/PATCH /api/v1/users/me: your own profile. Unknown fields (e.g. "role") are a 422, never applied.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { contextOf } from './context.js';
import { AUTH_ERRORS, BEARER_OR_KEY, Detail, Email, FullName, Password, UserOut, userJson } from './schemas.js';
import type { RouteOptions } from './auth/tokens.js';

const ProfilePatch = Type.Object({
  full_name: Type.Optional(FullName),
  email: Type.Optional(Email),
  current_password: Type.Optional(Password),
}, { additionalProperties: false });

export const userRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services }) => {
  app.get('/users/me', {
    onRequest: [app.requireUser, app.requireScopes('profile:read')],
    schema: { tags: ['users'], summary: 'Your profile', security: BEARER_OR_KEY, response: { 200: UserOut, ...AUTH_ERRORS } },
  }, async (request) => userJson(await services.users.profile(request.principal.userId)));

  app.patch('/users/me', {
    onRequest: [app.requireUser, app.requireScopes('profile:write')],
    schema: {
      tags: ['users'], summary: 'Edit your profile (a new email needs current_password)', security: BEARER_OR_KEY,
      body: ProfilePatch, response: { 200: UserOut, 409: Detail, ...AUTH_ERRORS },
    },
  }, async (request) => {
    const { full_name, email, current_password } = request.body;
    const user = await services.users.updateProfile(request.principal.userId, { fullName: full_name, email, currentPassword: current_password }, contextOf(request));
    return userJson(user);
  });
};
