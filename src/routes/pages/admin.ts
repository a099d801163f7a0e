// The admin pages: users (search, paging, role and active switches) and the audit log (filters,
// paging). Admins only; the switches go through the same service as PATCH /admin/users/{id}.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { HttpError } from '../../errors/http-error.js';
import { FORM_ONLY } from '../../plugins/content-types.js';
import { auditPage, auditTable, userRow, usersPage, usersTable } from '../../pages/views/admin.js';
import { AUDIT_ACTIONS, type AuditAction } from '../../services/audit.js';
import { numericId } from '../admin/users.js';
import { contextOf } from '../context.js';
import { checkFormCsrf, isHtmx, redirect, requireViewer, sendPage, text, type PageRouteOptions, type Viewer } from './context.js';

const USERS_PER_PAGE = 20;
const EVENTS_PER_PAGE = 50;
const MAX_OFFSET = 1_000_000_000;

const ToggleForm = Type.Object({
  role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
  is_active: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  q: Type.Optional(Type.String({ maxLength: 100 })),
  offset: Type.Optional(Type.String({ maxLength: 12 })),
  csrf_token: Type.Optional(Type.String({ maxLength: 200 })),
}, { additionalProperties: false });

/** A page's query, read leniently below (a bad offset is the first page) but only as storable text. */
const PageQuery = (names: readonly string[]) =>
  Type.Object(Object.fromEntries(names.map((name) => [name, Type.Optional(Type.String({ maxLength: 200 }))])));

function offsetOf(raw: unknown): number {
  return typeof raw === 'string' && /^\d{1,10}$/.test(raw) ? Math.min(Number(raw), MAX_OFFSET) : 0;
}

function searchOf(raw: unknown): string | undefined {
  return typeof raw === 'string' ? raw.trim().slice(0, 100) || undefined : undefined;
}

function listUrl(q: string | undefined, offset: number): string {
  const query = new URLSearchParams();
  if (q) query.set('q', q);
  if (offset > 0) query.set('offset', String(offset));
  const text = query.toString();
  return text ? `/admin?${text}` : '/admin';
}

export const adminPages: FastifyPluginAsync<PageRouteOptions> = async (app, options) => {
  const { services } = options;

  /** Signed in (else to sign-in) and an administrator (else 403, as on the API). */
  async function adminViewer(request: FastifyRequest, reply: FastifyReply, next: string): Promise<Viewer | undefined> {
    const viewer = await requireViewer(request, reply, options, next);
    if (viewer && !(viewer.user.role === 'admin' && viewer.principal.roles.includes('admin'))) throw new HttpError('INSUFFICIENT_PERMISSIONS');
    return viewer;
  }

  app.get('/admin', { config: { page: true }, schema: { hide: true, querystring: PageQuery(['q', 'offset']) } }, async (request, reply) => {
    const viewer = await adminViewer(request, reply, request.url);
    if (!viewer) return reply;
    const query = request.query as Record<string, unknown>;
    const q = searchOf(query.q);
    const offset = offsetOf(query.offset);
    const { users, total } = await services.users.list({ q, limit: USERS_PER_PAGE, offset });
    const state = { users, q, csrfToken: viewer.csrfToken, selfId: viewer.user.id, page: { limit: USERS_PER_PAGE, offset, total } };
    return sendPage(request, reply, 200, viewer, { title: 'Users', active: 'admin-users', main: usersPage(state), fragment: usersTable(state) });
  });

  app.post('/admin/users/:id', {
    config: { page: true, csrf: 'form', consumes: FORM_ONLY }, attachValidation: true,
    schema: { hide: true, params: Type.Object({ id: Type.String({ maxLength: 100 }) }), body: ToggleForm },
  }, async (request, reply) => {
    const viewer = await adminViewer(request, reply, '/admin');
    if (!viewer) return reply;
    checkFormCsrf(request, viewer, options);
    if (request.validationError) throw new HttpError('BAD_REQUEST');
    const id = numericId((request.params as { id: string }).id);
    const body = request.body as Record<string, unknown>;
    const role = text(body, 'role') as 'user' | 'admin' | undefined;
    const active = text(body, 'is_active');
    const updated = await services.users.adminUpdate(id, { role, isActive: active === undefined ? undefined : active === 'true' }, { ...contextOf(request), actorId: viewer.user.id });
    const q = searchOf(body.q);
    const offset = offsetOf(body.offset);
    // An admin who just demoted or deactivated themselves has no admin page left to show.
    const lostAccess = updated.id === viewer.user.id && (updated.role !== 'admin' || !updated.isActive);
    if (lostAccess) return redirect(request, reply, '/account');
    if (!isHtmx(request)) return redirect(request, reply, listUrl(q, offset));
    return sendPage(request, reply, 200, viewer, { title: 'Users', main: userRow({ user: updated, csrfToken: viewer.csrfToken, selfId: viewer.user.id, q, offset }) });
  });

  app.get('/admin/audit', { config: { page: true }, schema: { hide: true, querystring: PageQuery(['user_id', 'action', 'offset']) } }, async (request, reply) => {
    const viewer = await adminViewer(request, reply, request.url);
    if (!viewer) return reply;
    const query = request.query as Record<string, unknown>;
    const rawUser = typeof query.user_id === 'string' ? query.user_id.trim() : '';
    const userOk = rawUser === '' || /^\d{1,15}$/.test(rawUser);
    const action = typeof query.action === 'string' && (AUDIT_ACTIONS as readonly string[]).includes(query.action) ? query.action as AuditAction : undefined;
    const offset = offsetOf(query.offset);
    const userId = userOk && rawUser !== '' ? Number(rawUser) : undefined;
    const { events, total } = await services.audit.list({ limit: EVENTS_PER_PAGE, offset, userId, action });
    const state = {
      events, actions: AUDIT_ACTIONS, page: { limit: EVENTS_PER_PAGE, offset, total },
      filters: { user_id: userOk ? rawUser || undefined : undefined, action },
      error: userOk ? undefined : 'User ID must be a number; showing every user.',
    };
    return sendPage(request, reply, 200, viewer, { title: 'Audit log', active: 'admin-audit', main: auditPage(state), fragment: auditTable(state) });
  });
};
