// "Forgot password" and "choose a new password" as pages, thin over services.passwordReset (the same
// use case the API routes call). Anonymous forms: pre-session CSRF token, exact Origin, auth budget.
//
// The reset link's token never appears in an HTTP response (CONTRACT: "the token never appears in an
// HTTP response"). Opening the link seals the token into an HttpOnly cookie (AES-GCM under a key
// derived from SECRET_KEY) and redirects to the bare /reset-password, so the token also leaves the
// address bar and history at once; the form posts with that cookie and holds no token itself.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { decrypt, encrypt } from '../../crypto/encryption.js';
import { ERRORS } from '../../errors/catalogue.js';
import { HttpError } from '../../errors/http-error.js';
import { issuesFromAjv } from '../../errors/validation.js';
import { FORM_ONLY } from '../../plugins/content-types.js';
import { clearSessionCookies, hostCookieName } from '../../plugins/session-cookies.js';
import { issuesToFields, type FieldErrors } from '../../pages/forms.js';
import { forgotForm, forgotSent, resetForm, resetLinkDead } from '../../pages/views/password-reset.js';
import { RESET_TOKEN_TTL_MS } from '../../services/password-reset.js';
import { contextOf } from '../context.js';
import { Email, Password } from '../schemas.js';
import { isHtmx, readCookie, redirect, sendPage, text, type PageRouteOptions } from './context.js';
import { presessionToken, presessionValid } from './presession.js';

const FORM_POST = { page: true, csrf: 'form', consumes: FORM_ONLY, rateLimit: 'auth-pages' } as const;
const CsrfField = Type.Optional(Type.String({ maxLength: 200 }));
const EXPIRED_FORM = 'This form expired or came from another site. Please try again.';
const MISMATCH = 'The two passwords do not match.';
/** Authenticated with the sealed value: a ciphertext made for another purpose does not open here. */
const SEAL_CONTEXT = 'reset-link';

// The API's own field schemas (password-reset request and confirm), so both refuse the same input.
const ForgotForm = Type.Object({ email: Email, csrf_token: CsrfField }, { additionalProperties: false });
const ResetForm = Type.Object({
  new_password: Password,
  confirm_password: Type.Optional(Type.String({ maxLength: 1024 })),
  csrf_token: CsrfField,
}, { additionalProperties: false });
const RESET_FIELDS = ['new_password', 'confirm_password'];

/** A link token is URL-safe text (its length is the service's to judge); anything else is not one of ours. */
const TOKEN_SHAPE = /^[A-Za-z0-9._~-]{1,200}$/;

function tokenOf(value: unknown): string | undefined {
  return typeof value === 'string' && TOKEN_SHAPE.test(value) ? value : undefined;
}

/**
 * The page may be shown at a URL that holds a token (a dead link): a Referer must never repeat it
 * (OWASP Forgot Password Cheat Sheet, "no-referrer" on the reset page). Said by the document, not by
 * the Referrer-Policy header, which is the contract's one value on every response.
 */
const NO_REFERRER = { layout: { referrer: 'no-referrer' } } as const;

export const passwordResetPages: FastifyPluginAsync<PageRouteOptions> = async (app, options) => {
  const { services, cookies } = options;
  const minLength = services.config.passwordMinLength;
  const key = services.derivedKeys.encryption;
  const cookieName = hostCookieName('reset_link', services.config.isProduction);
  // Lax, not Strict: the link is opened from a mail client, a cross-site navigation.
  const cookie = { httpOnly: true, sameSite: 'lax', path: '/', secure: cookies.secure } as const;

  const sealToken = (reply: FastifyReply, token: string) =>
    reply.setCookie(cookieName, encrypt(key, token, SEAL_CONTEXT), { ...cookie, maxAge: RESET_TOKEN_TTL_MS / 1000 });
  const dropToken = (reply: FastifyReply) => reply.clearCookie(cookieName, cookie);
  /** The token this browser holds from the link it opened, if it still reads as one. */
  const heldToken = (request: FastifyRequest): string | undefined => {
    const sealed = readCookie(request, cookieName);
    if (!sealed || sealed.length > 1000) return undefined;
    try {
      return tokenOf(decrypt(key, sealed, SEAL_CONTEXT));
    } catch {
      return undefined;
    }
  };

  const showForgot = (request: FastifyRequest, reply: FastifyReply, status: number, email?: string, errors?: FieldErrors) =>
    sendPage(request, reply, status, null, { title: 'Forgot password', main: forgotForm({ csrfToken: presessionToken(request, reply, options), email, errors }) });
  const showReset = (request: FastifyRequest, reply: FastifyReply, status: number, errors?: FieldErrors) =>
    sendPage(request, reply, status, null, {
      ...NO_REFERRER,
      title: 'Choose a new password',
      main: resetForm({ csrfToken: presessionToken(request, reply, options), errors, passwordMinLength: minLength }),
    });
  /** Unknown, expired, used, malformed or missing: one answer, and the cookie (if any) goes. */
  const showDead = (request: FastifyRequest, reply: FastifyReply) => {
    if (readCookie(request, cookieName) !== undefined) dropToken(reply);
    return sendPage(request, reply, ERRORS.INVALID_RESET_TOKEN.status, null, { ...NO_REFERRER, title: 'Choose a new password', main: resetLinkDead(ERRORS.INVALID_RESET_TOKEN.detail) });
  };

  app.get('/forgot-password', { config: { page: true }, schema: { hide: true } }, async (request, reply) => {
    if ((request.query as Record<string, unknown>).sent !== undefined) {
      return sendPage(request, reply, 200, null, { title: 'Check your email', main: forgotSent() });
    }
    return showForgot(request, reply, 200);
  });

  app.post('/forgot-password', { config: FORM_POST, attachValidation: true, schema: { hide: true, body: ForgotForm } }, async (request, reply) => {
    const email = text(request.body, 'email');
    if (!presessionValid(request, options)) return showForgot(request, reply, 403, email, { _form: EXPIRED_FORM });
    if (request.validationError) {
      // A malformed address says nothing about which accounts exist (the API answers it with 422 too).
      return showForgot(request, reply, 422, email, issuesToFields(issuesFromAjv(request.validationError.validation as never, 'body'), ['email']));
    }
    // The service answers the same for every address; the mail is sent after this response.
    await services.passwordReset.request(email!, contextOf(request));
    if (!isHtmx(request)) return redirect(request, reply, '/forgot-password?sent=1');
    return sendPage(request, reply, 200, null, { title: 'Check your email', main: forgotSent() });
  });

  app.get('/reset-password', { config: { page: true }, schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    if (query.token !== undefined) {
      // The link from the mail: keep its token in the cookie, take it out of the URL.
      const token = tokenOf(query.token);
      if (!token || !(await services.passwordReset.isLive(token))) return showDead(request, reply);
      sealToken(reply, token);
      return reply.code(303).header('location', '/reset-password').send();
    }
    const token = heldToken(request);
    if (!token || !(await services.passwordReset.isLive(token))) return showDead(request, reply);
    return showReset(request, reply, 200);
  });

  app.post('/reset-password', { config: FORM_POST, attachValidation: true, schema: { hide: true, body: ResetForm } }, async (request, reply) => {
    const token = heldToken(request);
    if (!token) return showDead(request, reply);
    if (!presessionValid(request, options)) return showReset(request, reply, 403, { _form: EXPIRED_FORM });
    const body = request.body as Record<string, unknown> | undefined;
    const issues = request.validationError ? issuesFromAjv(request.validationError.validation as never, 'body') : [];
    const errors = issuesToFields(issues, RESET_FIELDS);
    const newPassword = text(body, 'new_password');
    if (errors.new_password === undefined && newPassword !== text(body, 'confirm_password')) errors.confirm_password ??= MISMATCH;
    if (Object.keys(errors).length > 0) return showReset(request, reply, 422, errors);
    try {
      await services.passwordReset.confirm(token, newPassword!, contextOf(request));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      // Unknown, expired and used read the same; nothing says which.
      if (err.code === 'INVALID_RESET_TOKEN') return showDead(request, reply);
      // A policy refusal leaves the token unspent (the service checks before consuming it).
      if (err.issues) return showReset(request, reply, 422, issuesToFields(err.issues, RESET_FIELDS));
      return showReset(request, reply, err.status, { _form: err.detail });
    }
    // Every session of the account just ended: this browser's cookies (if any) are dead too.
    dropToken(reply);
    clearSessionCookies(reply, cookies);
    return redirect(request, reply, '/login?reset=1');
  });
};
