// GET /api/v1/admin/audit: the audit trail, newest first, filtered by user and action.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AUDIT_ACTIONS } from '../../services/audit.js';
import { AUTH_ERRORS, BEARER_OR_KEY } from '../schemas.js';
import type { RouteOptions } from '../auth/tokens.js';
import { PAGE_DEFAULTS, Paging } from './users.js';

const AuditEventOut = Type.Object({
  id: Type.Integer(),
  time: Type.String({ format: 'date-time' }),
  action: Type.String(),
  user_id: Type.Union([Type.Integer(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  request_id: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.String(),
});

export const adminAuditRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services }) => {
  app.get('/admin/audit', {
    onRequest: [app.requireRoles('admin'), app.requireScopes('admin')],
    schema: {
      tags: ['admin'], summary: 'The audit trail, newest first (X-Total-Count counts all matches)', security: BEARER_OR_KEY,
      querystring: Type.Object({
        ...Paging,
        user_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e15 })),
        action: Type.Optional(Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a)))),
      }),
      response: { 200: Type.Array(AuditEventOut), ...AUTH_ERRORS },
    },
  }, async (request, reply) => {
    const { limit = PAGE_DEFAULTS.limit, offset = PAGE_DEFAULTS.offset, user_id, action } = request.query;
    const { events, total } = await services.audit.list({ limit, offset, userId: user_id, action });
    reply.header('x-total-count', String(total));
    return events.map((e) => ({
      id: e.id, time: new Date(e.time).toISOString(), action: e.action, user_id: e.userId, ip: e.ip,
      user_agent: e.userAgent, request_id: e.requestId, outcome: e.outcome,
    }));
  });
};
