// Sign in, sign up and sign out as pages. Each works as a plain form post without JavaScript and as
// an htmx swap; the anonymous forms carry a pre-session CSRF token, every post an exact Origin.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { HttpError } from '../../errors/http-error.js';
import { issuesFromAjv } from '../../errors/validation.js';
import { FORM_ONLY } from '../../plugins/content-types.js';
import { csrfValid } from '../../plugins/csrf.js';
import { clearSessionCookies } from '../../plugins/session-cookies.js';
import { issuesToFields } from '../../pages/forms.js';
import { loginForm, registerForm, type LoginFormState } from '../../pages/views/auth.js';
import { EVERY_SCOPE_OF_ROLE } from '../../services/scopes.js';
import { deliverToBrowser } from '../auth/login.js';
import { contextOf } from '../context.js';
import { Email, FullName, Password, Username } from '../schemas.js';
import { checkFormCsrf, readCookie, redirect, safeNext, sendPage, text, viewerOf, type PageRouteOptions } from './context.js';
import { presessionToken, presessionValid } from './presession.js';

const FORM_POST = { page: true, csrf: 'form', consumes: FORM_ONLY } as const;
const Token = Type.Optional(Type.String({ maxLength: 200 }));
const EXPIRED_FORM = 'This form expired or came from another site. Please try again.';
/** The two-factor step: the password is never echoed into the page, so it is asked for again, and said so. */
const MFA_STEP = 'A valid two-factor code is required. Enter your password again, and the code from your authenticator app.';
/** The code step answered with a code that was refused: said as such, not as the step again. */
const MFA_CODE_REFUSED = 'That two-factor code was not accepted: it is wrong, expired or already used. Enter your password again, and a new code from your authenticator app (or an unused recovery code).';

const LoginForm = Type.Object({
  username: Type.String({ maxLength: 320 }),
  password: Type.String({ maxLength: 1024 }),
  otp: Type.Optional(Type.String({ maxLength: 64 })),
  next: Type.Optional(Type.String({ maxLength: 1000 })),
  csrf_token: Token,
}, { additionalProperties: false });

// The API's registration fields, so the form is refused by exactly the rules the API applies.
const RegisterForm = Type.Object({ email: Email, username: Username, password: Password, full_name: Type.Optional(FullName), csrf_token: Token }, { additionalProperties: false });
const REGISTER_FIELDS = ['email', 'username', 'full_name', 'password'];

const NOTICES: Record<string, string> = {
  registered: 'Your account was created. Sign in with your new password.',
  signed_out: 'You have been signed out.',
  reset: 'Your password was changed and every session signed out. Sign in with your new password.',
};

export const authPages: FastifyPluginAsync<PageRouteOptions> = async (app, options) => {
  const { services, cookies } = options;

  function showLogin(request: FastifyRequest, reply: FastifyReply, status: number, state: Omit<LoginFormState, 'csrfToken'>) {
    const form = loginForm({ ...state, csrfToken: presessionToken(request, reply, options) });
    // A browser that still holds a session (only its access cookie lapsed) resumes it from here.
    const resume = status === 200 && readCookie(request, cookies.names.csrf) !== undefined;
    return sendPage(request, reply, status, null, {
      title: 'Sign in', main: form, active: 'login',
      layout: resume ? { resumeTo: state.next, csrfCookie: cookies.names.csrf } : undefined,
    });
  }

  app.get('/', { config: { page: true }, schema: { hide: true } }, async (request, reply) =>
    redirect(request, reply, (await viewerOf(request, services)) ? '/account' : '/login'));

  app.get('/login', { config: { page: true }, schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const next = safeNext(query.next);
    if (await viewerOf(request, services)) return redirect(request, reply, next);
    const notice = Object.keys(NOTICES).find((key) => query[key] !== undefined);
    return showLogin(request, reply, 200, { next, notice: notice && NOTICES[notice] });
  });

  app.post('/login', { config: { ...FORM_POST, rateLimit: 'auth-pages' }, attachValidation: true, schema: { hide: true, body: LoginForm } }, async (request, reply) => {
    const body = request.body as Record<string, unknown> | undefined;
    const next = safeNext(text(body, 'next'));
    const username = text(body, 'username');
    if (!presessionValid(request, options)) return showLogin(request, reply, 403, { next, username, error: EXPIRED_FORM });
    if (request.validationError || !username) return showLogin(request, reply, 422, { next, username, error: 'Enter your username and password.' });
    const otp = text(body, 'otp')?.trim() || undefined;
    const password = text(body, 'password') ?? '';
    // An empty password is never a guess: a user who, on the two-factor step, typed only the code is
    // told what is missing, and the slip does not count toward the account's lockout.
    if (password === '') {
      return showLogin(request, reply, 422, { next, username, error: otp ? MFA_STEP : 'Enter your username and password.', otpRequired: otp !== undefined });
    }
    try {
      const ctx = contextOf(request);
      const user = await services.authentication.authenticate(username, password, otp, ctx);
      const issued = await services.sessions.start(user, 'browser', EVERY_SCOPE_OF_ROLE, ctx);
      deliverToBrowser(reply, options, issued);
      return redirect(request, reply, next);
    } catch (err) {
      // Wrong name and wrong password read the same: the catalogue's one sentence, no field marked.
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      reply.headers(err.headers);
      const mfa = err.code === 'MFA_REQUIRED';
      const error = mfa ? (otp === undefined ? MFA_STEP : MFA_CODE_REFUSED) : err.detail;
      return showLogin(request, reply, err.status, { next, username, error, otpRequired: mfa });
    }
  });

  app.get('/register', { config: { page: true }, schema: { hide: true } }, async (request, reply) => {
    if (await viewerOf(request, services)) return redirect(request, reply, '/account');
    const form = registerForm({ csrfToken: presessionToken(request, reply, options), passwordMinLength: services.config.passwordMinLength });
    return sendPage(request, reply, 200, null, { title: 'Create an account', main: form, active: 'register' });
  });

  app.post('/register', { config: { ...FORM_POST, rateLimit: 'auth-pages' }, attachValidation: true, schema: { hide: true, body: RegisterForm } }, async (request, reply) => {
    const body = request.body as Record<string, unknown> | undefined;
    const values = Object.fromEntries(REGISTER_FIELDS.map((name) => [name, name === 'password' ? undefined : text(body, name)]));
    const show = (status: number, errors: Record<string, string>) => sendPage(request, reply, status, null, {
      title: 'Create an account', active: 'register',
      main: registerForm({ csrfToken: presessionToken(request, reply, options), values, errors, passwordMinLength: services.config.passwordMinLength }),
    });
    if (!presessionValid(request, options)) return show(403, { _form: EXPIRED_FORM });
    const { email, username, password } = { email: text(body, 'email'), username: text(body, 'username'), password: text(body, 'password') };
    const issues = request.validationError ? issuesFromAjv(request.validationError.validation as never, 'body') : [];
    // The service's password policy, checked even when another field failed, so every problem shows at once.
    if (password !== undefined && !issues.some((i) => i.loc[1] === 'password')) {
      try {
        services.users.checkPassword(password, { username, email }, 'password');
      } catch (err) {
        if (!(err instanceof HttpError && err.issues)) throw err;
        issues.push(...err.issues);
      }
    }
    if (issues.length > 0) return show(422, issuesToFields(issues, REGISTER_FIELDS));
    try {
      const fullName = text(body, 'full_name')?.trim() || null;
      await services.users.register({ email: email!, username: username!, password: password!, fullName });
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      if (err.issues) return show(422, issuesToFields(err.issues, REGISTER_FIELDS));
      const fieldName = err.code === 'USERNAME_TAKEN' ? 'username' : err.code === 'EMAIL_TAKEN' ? 'email' : '_form';
      return show(err.status, { [fieldName]: err.detail });
    }
    return redirect(request, reply, '/login?registered=1');
  });

  /** Only with the CSRF token bound to that session, sent in the form and held in the cookie. */
  async function logoutLapsedSession(request: FastifyRequest): Promise<void> {
    const sessionId = text(request.body, 'session');
    const sent = text(request.body, 'csrf_token');
    if (sessionId === undefined || !csrfValid(services.derivedKeys.csrf, sessionId, sent, readCookie(request, cookies.names.csrf))) return;
    await services.sessions.logoutById(sessionId, contextOf(request));
  }

  // Sign out without JavaScript: a form post carrying the session's CSRF token, and the session's
  // id for when the access cookie has lapsed (the refresh cookie is not sent outside /api/v1/auth):
  // "Sign out" must end the session on the server however long the page stood open.
  app.post('/logout', { config: FORM_POST, attachValidation: true, schema: { hide: true, body: Type.Object({ csrf_token: Token, session: Token }, { additionalProperties: false }) } }, async (request, reply) => {
    const viewer = await viewerOf(request, services);
    if (viewer) {
      checkFormCsrf(request, viewer, options);
      await services.sessions.logout(viewer.user.id, viewer.principal.sessionId!, contextOf(request));
    } else {
      await logoutLapsedSession(request);
    }
    clearSessionCookies(reply, cookies);
    return redirect(request, reply, '/login?signed_out=1');
  });
};
