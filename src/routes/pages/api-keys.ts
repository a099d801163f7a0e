// The API keys page: thin handlers over the API-key service, the same one behind /api/v1/api-keys.
// A key is created in a no-store response and shown once; revoking stops it at once.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { HttpError, type ValidationIssue } from '../../errors/http-error.js';
import { issuesFromAjv } from '../../errors/validation.js';
import { FORM_ONLY } from '../../plugins/content-types.js';
import { issuesToFields } from '../../pages/forms.js';
import { html } from '../../pages/html.js';
import { apiKeysPage, keyForm, keyList, type KeyFormState } from '../../pages/views/api-keys.js';
import { scopesForRole } from '../../services/scopes.js';
import { contextOf } from '../context.js';
import { checkFormCsrf, isHtmx, redirect, requireViewer, sendPage, text, type PageRouteOptions, type Viewer } from './context.js';

const FORM_POST = { page: true, csrf: 'form', consumes: FORM_ONLY } as const;
const Token = Type.Optional(Type.String({ maxLength: 200 }));
// POST /api/v1/api-keys's fields and bounds, after the form's text is read as a list and a number.
const KeyForm = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  scopes: Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 10 }),
  expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  csrf_token: Token,
}, { additionalProperties: false });
const KEY_FIELDS = ['name', 'scopes', 'expires_in_days'];

/** Form text → the API's shapes: one checked box is still a list; an empty or numeric day count. */
async function readKeyForm(request: FastifyRequest): Promise<void> {
  const body = request.body as Record<string, unknown> | undefined;
  if (!body) return;
  if (typeof body.scopes === 'string') body.scopes = [body.scopes];
  if (body.scopes === undefined) body.scopes = [];
  if (body.expires_in_days === '') delete body.expires_in_days;
  else if (typeof body.expires_in_days === 'string' && /^\d{1,6}$/.test(body.expires_in_days)) body.expires_in_days = Number(body.expires_in_days);
}

export const apiKeyPages: FastifyPluginAsync<PageRouteOptions> = async (app, options) => {
  const { services } = options;

  /** The scopes a new key may have: what the role holds and this session was granted. */
  const offered = (viewer: Viewer) => scopesForRole(viewer.user.role).filter((s) => viewer.principal.scopes.has(s));

  async function show(request: FastifyRequest, reply: FastifyReply, viewer: Viewer, status: number, form: Partial<KeyFormState> = {}, notice?: string) {
    const keys = await services.apiKeys.list(viewer.user.id);
    const formState = { csrfToken: viewer.csrfToken, scopes: offered(viewer), ...form };
    return sendPage(request, reply, status, viewer, { title: 'API keys', active: 'api-keys', main: apiKeysPage(formState, { csrfToken: viewer.csrfToken, keys, notice }) });
  }

  async function formViewer(request: FastifyRequest, reply: FastifyReply): Promise<Viewer | undefined> {
    const viewer = await requireViewer(request, reply, options, '/account/api-keys');
    if (viewer) checkFormCsrf(request, viewer, options);
    return viewer;
  }

  app.get('/account/api-keys', { config: { page: true }, schema: { hide: true } }, async (request, reply) => {
    const viewer = await requireViewer(request, reply, options, request.url);
    if (!viewer) return reply;
    const revoked = (request.query as Record<string, unknown>).notice === 'revoked';
    return show(request, reply, viewer, 200, {}, revoked ? 'The key was revoked.' : undefined);
  });

  app.post('/account/api-keys', { config: FORM_POST, attachValidation: true, preValidation: readKeyForm, schema: { hide: true, body: KeyForm } }, async (request, reply) => {
    const viewer = await formViewer(request, reply);
    if (!viewer) return reply;
    const body = request.body as Record<string, unknown>;
    const scopes = Array.isArray(body.scopes) ? body.scopes.filter((s): s is string => typeof s === 'string') : [];
    const values = { name: text(body, 'name'), scopes, expires_in_days: body.expires_in_days === undefined ? undefined : String(body.expires_in_days) };
    const refuse = (status: number, issues: readonly ValidationIssue[] | Record<string, string>) => {
      const errors = Array.isArray(issues) ? issuesToFields(issues, KEY_FIELDS) : issues as Record<string, string>;
      const form = { csrfToken: viewer.csrfToken, scopes: offered(viewer), values, errors };
      return isHtmx(request) ? sendPage(request, reply, status, viewer, { title: 'API keys', main: keyForm(form) }) : show(request, reply, viewer, status, form);
    };
    if (request.validationError) return refuse(422, issuesFromAjv(request.validationError.validation as never, 'body'));
    let created;
    try {
      created = await services.apiKeys.create(
        { userId: viewer.user.id, scopes: viewer.principal.scopes },
        { name: values.name!, scopes, expiresInDays: typeof body.expires_in_days === 'number' ? body.expires_in_days : undefined }, contextOf(request),
      );
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      if (err.issues) return refuse(422, err.issues);
      return refuse(err.status, { [err.code === 'INSUFFICIENT_SCOPE' ? 'scopes' : '_form']: err.detail });
    }
    // Shown once and never again: this response is no-store like every page, and is not redirected to.
    const form = { csrfToken: viewer.csrfToken, scopes: offered(viewer), created: { name: created.apiKey.name, key: created.key } };
    if (!isHtmx(request)) return show(request, reply, viewer, 201, form);
    const keys = await services.apiKeys.list(viewer.user.id);
    return sendPage(request, reply, 201, viewer, { title: 'API keys', main: html`${keyForm(form)}${keyList({ csrfToken: viewer.csrfToken, keys, oob: true })}` });
  });

  app.post('/account/api-keys/:id/revoke', {
    config: FORM_POST, attachValidation: true,
    schema: { hide: true, params: Type.Object({ id: Type.String({ maxLength: 100 }) }), body: Type.Object({ csrf_token: Token }, { additionalProperties: false }) },
  }, async (request, reply) => {
    const viewer = await formViewer(request, reply);
    if (!viewer) return reply;
    await services.apiKeys.revoke(viewer.user.id, (request.params as { id: string }).id, contextOf(request));
    if (!isHtmx(request)) return redirect(request, reply, '/account/api-keys?notice=revoked');
    const keys = await services.apiKeys.list(viewer.user.id);
    return sendPage(request, reply, 200, viewer, { title: 'API keys', main: keyList({ csrfToken: viewer.csrfToken, keys, notice: 'The key was revoked.' }) });
  });
};
