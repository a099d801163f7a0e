// The account pages: profile edit, password change, and one's own sessions. Thin handlers over the
// user and session services; without JavaScript each form posts and the browser is sent back (303).
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { HttpError, type ValidationIssue } from '../../errors/http-error.js';
import { issuesFromAjv } from '../../errors/validation.js';
import { FORM_ONLY } from '../../plugins/content-types.js';
import { clearSessionCookies } from '../../plugins/session-cookies.js';
import { issuesToFields } from '../../pages/forms.js';
import { html } from '../../pages/html.js';
import { navUser } from '../../pages/layout.js';
import { accountPage, passwordForm, profileForm, sessionsList, type AccountPageState } from '../../pages/views/account.js';
import { contextOf } from '../context.js';
import { Email, FullName, Password } from '../schemas.js';
import { checkFormCsrf, displayName, isHtmx, redirect, requireViewer, sendPage, text, type PageRouteOptions, type Viewer } from './context.js';

const FORM_POST = { page: true, csrf: 'form', consumes: FORM_ONLY } as const;
const Token = Type.Optional(Type.String({ maxLength: 200 }));
// The API's own field schemas (PATCH /users/me, POST /auth/password), so both refuse the same input.
const ProfileForm = Type.Object({ full_name: Type.Optional(FullName), email: Type.Optional(Email), current_password: Type.Optional(Password), csrf_token: Token }, { additionalProperties: false });
const PasswordChangeForm = Type.Object({ current_password: Password, new_password: Password, csrf_token: Token }, { additionalProperties: false });
const PROFILE_FIELDS = ['full_name', 'email', 'current_password'];
const PASSWORD_FIELDS = ['current_password', 'new_password'];

const NOTICES: Record<string, string> = {
  profile: 'Profile saved.',
  password: 'Password changed. Every other session was signed out.',
  session: 'That device was signed out.',
};

function validationIssues(request: FastifyRequest): ValidationIssue[] {
  return request.validationError ? issuesFromAjv(request.validationError.validation as never, 'body') : [];
}

export const accountPages: FastifyPluginAsync<PageRouteOptions> = async (app, options) => {
  const { services, cookies } = options;
  const minLength = services.config.passwordMinLength;

  async function showAccount(request: FastifyRequest, reply: FastifyReply, viewer: Viewer, status: number, parts: Partial<AccountPageState> = {}) {
    const sessions = await services.sessions.list(viewer.user.id);
    const state: AccountPageState = {
      profile: { csrfToken: viewer.csrfToken, user: viewer.user },
      password: { csrfToken: viewer.csrfToken, passwordMinLength: minLength },
      sessions: { csrfToken: viewer.csrfToken, sessions, currentId: viewer.principal.sessionId },
      ...parts,
    };
    return sendPage(request, reply, status, viewer, { title: 'Your account', active: 'account', main: accountPage(state) });
  }

  /** Every account form: signed in (else to sign-in), then CSRF. */
  async function formViewer(request: FastifyRequest, reply: FastifyReply): Promise<Viewer | undefined> {
    const viewer = await requireViewer(request, reply, options, '/account');
    if (viewer) checkFormCsrf(request, viewer, options);
    return viewer;
  }

  app.get('/account', { config: { page: true }, schema: { hide: true } }, async (request, reply) => {
    const viewer = await requireViewer(request, reply, options, request.url);
    if (!viewer) return reply;
    const notice = NOTICES[String((request.query as Record<string, unknown>).notice ?? '')];
    return showAccount(request, reply, viewer, 200, { notice });
  });

  const profile = async (request: FastifyRequest, reply: FastifyReply) => {
    const viewer = await formViewer(request, reply);
    if (!viewer) return reply;
    const body = request.body as Record<string, unknown> | undefined;
    const values = { full_name: text(body, 'full_name'), email: text(body, 'email') };
    const refuse = (status: number, errors: Record<string, string>) => {
      const form = { csrfToken: viewer.csrfToken, user: viewer.user, values, errors };
      return isHtmx(request) ? sendPage(request, reply, status, viewer, { title: 'Your account', main: profileForm(form) }) : showAccount(request, reply, viewer, status, { profile: form });
    };
    const issues = validationIssues(request);
    if (issues.length > 0) return refuse(422, issuesToFields(issues, PROFILE_FIELDS));
    const currentPassword = text(body, 'current_password');
    let user;
    try {
      user = await services.users.updateProfile(viewer.user.id, { fullName: values.full_name === undefined ? undefined : values.full_name.trim() || null, email: values.email, currentPassword }, contextOf(request));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      if (err.issues) return refuse(422, issuesToFields(err.issues, PROFILE_FIELDS));
      if (err.code === 'WRONG_PASSWORD') {
        return refuse(403, { current_password: currentPassword === undefined ? 'Enter your current password to change your email.' : err.detail });
      }
      return refuse(err.status, { [err.code === 'EMAIL_TAKEN' ? 'email' : '_form']: err.detail });
    }
    if (!isHtmx(request)) return redirect(request, reply, '/account?notice=profile');
    // The header greets the user by name: it follows the edit out of band.
    const fragment = html`${profileForm({ csrfToken: viewer.csrfToken, user, notice: NOTICES.profile })}${navUser(displayName(user), true)}`;
    return sendPage(request, reply, 200, viewer, { title: 'Your account', main: fragment });
  };
  // An empty "current password" means "not given" (it is only needed for a new email).
  const dropEmptyPassword = async (request: FastifyRequest) => {
    const body = request.body as Record<string, unknown> | undefined;
    if (body && body.current_password === '') delete body.current_password;
  };
  const profileRoute = { config: FORM_POST, attachValidation: true, preValidation: dropEmptyPassword, schema: { hide: true, body: ProfileForm } };
  app.patch('/account/profile', profileRoute, profile);
  app.post('/account/profile', profileRoute, profile);

  app.post('/account/password', { config: FORM_POST, attachValidation: true, schema: { hide: true, body: PasswordChangeForm } }, async (request, reply) => {
    const viewer = await formViewer(request, reply);
    if (!viewer) return reply;
    const refuse = (status: number, errors: Record<string, string>) => {
      const form = { csrfToken: viewer.csrfToken, errors, passwordMinLength: minLength };
      return isHtmx(request) ? sendPage(request, reply, status, viewer, { title: 'Your account', main: passwordForm(form) }) : showAccount(request, reply, viewer, status, { password: form });
    };
    const issues = validationIssues(request);
    if (issues.length > 0) return refuse(422, issuesToFields(issues, PASSWORD_FIELDS));
    const body = request.body as Record<string, unknown>;
    try {
      await services.users.changePassword(viewer.user.id, viewer.principal.sessionId, text(body, 'current_password')!, text(body, 'new_password')!, contextOf(request));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      if (err.issues) return refuse(422, issuesToFields(err.issues, PASSWORD_FIELDS));
      return refuse(err.status, { [err.code === 'WRONG_PASSWORD' ? 'current_password' : '_form']: err.detail });
    }
    if (!isHtmx(request)) return redirect(request, reply, '/account?notice=password');
    const sessions = await services.sessions.list(viewer.user.id);
    const fragment = html`${passwordForm({ csrfToken: viewer.csrfToken, passwordMinLength: minLength, notice: NOTICES.password })}${sessionsList({ csrfToken: viewer.csrfToken, sessions, currentId: viewer.principal.sessionId, oob: true })}`;
    return sendPage(request, reply, 200, viewer, { title: 'Your account', main: fragment });
  });

  const CsrfOnly = Type.Object({ csrf_token: Token }, { additionalProperties: false });

  app.post('/account/sessions/:id/end', {
    config: FORM_POST, attachValidation: true,
    schema: { hide: true, params: Type.Object({ id: Type.String({ maxLength: 200 }) }), body: CsrfOnly },
  }, async (request, reply) => {
    const viewer = await formViewer(request, reply);
    if (!viewer) return reply;
    const { id } = request.params as { id: string };
    const ctx = contextOf(request);
    if (id === viewer.principal.sessionId) {
      // Signing out this device is signing out.
      await services.sessions.logout(viewer.user.id, id, ctx);
      clearSessionCookies(reply, cookies);
      return redirect(request, reply, '/login?signed_out=1');
    }
    await services.sessions.remove(viewer.user.id, id, ctx);
    if (!isHtmx(request)) return redirect(request, reply, '/account?notice=session');
    const sessions = await services.sessions.list(viewer.user.id);
    const fragment = sessionsList({ csrfToken: viewer.csrfToken, sessions, currentId: viewer.principal.sessionId, notice: NOTICES.session });
    return sendPage(request, reply, 200, viewer, { title: 'Your account', main: fragment });
  });

  app.post('/account/sessions/end-all', { config: FORM_POST, attachValidation: true, schema: { hide: true, body: CsrfOnly } }, async (request, reply) => {
    const viewer = await formViewer(request, reply);
    if (!viewer) return reply;
    await services.sessions.logoutAll(viewer.user.id, contextOf(request));
    clearSessionCookies(reply, cookies);
    return redirect(request, reply, '/login?signed_out=1');
  });
};
