// Admin: list and search users (X-Total-Count), switch a user's role and activity.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HttpError } from '../../errors/http-error.js';
import { contextOf } from '../context.js';
import { AUTH_ERRORS, BEARER_OR_KEY, Detail, IdParams, UserOut, userJson } from '../schemas.js';
import type { RouteOptions } from '../auth/tokens.js';

export const PAGE_DEFAULTS = { limit: 50, offset: 0 } as const;

/** Optional in the document (they have defaults); the validator fills the defaults in. */
export const Paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: PAGE_DEFAULTS.limit })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: PAGE_DEFAULTS.offset })),
};

/** Path ids are parsed here, not by the schema: a malformed id is simply an unknown one (404). */
export function numericId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError('NOT_FOUND', { detail: 'User not found' });
  return Number(raw);
}

export const adminUserRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services }) => {
  const admin = [app.requireRoles('admin'), app.requireScopes('admin')];

  app.get('/admin/users', {
    onRequest: admin,
    schema: {
      tags: ['admin'], summary: 'List users (q: case-insensitive substring of username or email)', security: BEARER_OR_KEY,
      querystring: Type.Object({ ...Paging, q: Type.Optional(Type.String({ maxLength: 100 })) }),
      response: {
        200: Type.Array(UserOut, { headers: { 'X-Total-Count': { type: 'integer', description: 'How many users match q, over all pages' } } }),
        ...AUTH_ERRORS,
      },
    },
  }, async (request, reply) => {
    const { limit = PAGE_DEFAULTS.limit, offset = PAGE_DEFAULTS.offset, q } = request.query;
    const { users, total } = await services.users.list({ q: q?.trim() || undefined, limit, offset });
    reply.header('x-total-count', String(total));
    return users.map(userJson);
  });

  app.patch('/admin/users/:id', {
    onRequest: admin,
    schema: {
      tags: ['admin'], summary: 'Change a user\'s role or activity (deactivation ends their sessions)', security: BEARER_OR_KEY,
      params: IdParams,
      body: Type.Object({
        role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
        is_active: Type.Optional(Type.Boolean()),
      }, { additionalProperties: false }),
      response: { 200: UserOut, 404: Detail, 409: Detail, ...AUTH_ERRORS },
    },
  }, async (request) => {
    const id = numericId(request.params.id);
    const { role, is_active } = request.body;
    const user = await services.users.adminUpdate(id, { role, isActive: is_active }, { ...contextOf(request), actorId: request.principal.userId });
    return userJson(user);
  });
};
