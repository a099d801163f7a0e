// The "forgot password" and "choose a new password" forms, the one confirmation every request gets,
// and the one error every dead link gets (OWASP Forgot Password Cheat Sheet: never say which part).
import { field, firstError, hidden, message, passwordRule, type FieldErrors } from '../forms.js';
import { html, type SafeHtml } from '../html.js';

export interface ForgotFormState {
  readonly csrfToken: string;
  readonly email?: string;
  readonly errors?: FieldErrors;
}

export function forgotForm(s: ForgotFormState): SafeHtml {
  const errors = s.errors ?? {};
  const focus = firstError(errors, ['email']);
  return html`<form id="forgot-form" class="card narrow" method="post" action="/forgot-password" hx-post="/forgot-password" hx-target="this" hx-swap="outerHTML" novalidate>
  <h1>Forgot your password?</h1>
  <p>Enter the email address of your account. We will mail you a link to choose a new password.</p>
  ${message('error', errors._form, { focus: focus === undefined })}
  ${hidden('csrf_token', s.csrfToken)}
  ${field({ form: 'forgot', name: 'email', label: 'Email', type: 'email', value: s.email, autocomplete: 'email', required: true, maxlength: 320, error: errors.email, focus: focus === 'email' || !errors._form })}
  <div class="actions">
    <button type="submit">Send reset link</button>
    <a href="/login">Back to sign in</a>
  </div>
</form>`;
}

/**
 * What every well-formed request sees, whether or not an account has that address: the same words,
 * the same markup, the address not even echoed (nothing here can differ between the two cases).
 */
export function forgotSent(): SafeHtml {
  return html`<section id="forgot-form" class="card narrow" aria-labelledby="forgot-sent-heading">
  <h1 id="forgot-sent-heading">Check your email</h1>
  ${message('ok', 'If an account exists for this address, a link to reset its password is on its way. It works once, for 30 minutes.', { focus: true })}
  <p class="muted">No mail after a few minutes? Check the spam folder, or <a href="/forgot-password">ask again</a>.</p>
  <div class="actions"><a href="/login">Back to sign in</a></div>
</section>`;
}

export interface ResetFormState {
  readonly csrfToken: string;
  readonly errors?: FieldErrors;
  readonly passwordMinLength: number;
}

const RESET_FIELDS = ['new_password', 'confirm_password'] as const;

export function resetForm(s: ResetFormState): SafeHtml {
  const errors = s.errors ?? {};
  const focus = firstError(errors, RESET_FIELDS);
  return html`<form id="reset-form" class="card narrow" method="post" action="/reset-password" hx-post="/reset-password" hx-target="this" hx-swap="outerHTML" novalidate>
  <h1>Choose a new password</h1>
  ${message('error', errors._form, { focus: focus === undefined })}
  ${hidden('csrf_token', s.csrfToken)}
  ${field({
    form: 'reset', name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password', required: true, maxlength: 1024,
    hint: `${passwordRule(s.passwordMinLength)} Every session is signed out.`,
    error: errors.new_password, focus: focus === 'new_password' || Object.keys(errors).length === 0,
  })}
  ${field({ form: 'reset', name: 'confirm_password', label: 'Repeat the new password', type: 'password', autocomplete: 'new-password', required: true, maxlength: 1024, error: errors.confirm_password, focus: focus === 'confirm_password' })}
  <div class="actions">
    <button type="submit">Set new password</button>
  </div>
</form>`;
}

/** A link that is unknown, expired, used or malformed: one answer, and the way to a new one. */
export function resetLinkDead(detail: string): SafeHtml {
  return html`<section id="reset-form" class="card narrow" aria-labelledby="reset-dead-heading">
  <h1 id="reset-dead-heading">This link cannot be used</h1>
  ${message('error', detail, { focus: true })}
  <p>A reset link works once and for 30 minutes; setting a new password ends every other link.</p>
  <div class="actions">
    <a href="/forgot-password">Ask for a new link</a>
    <a href="/login">Back to sign in</a>
  </div>
</section>`;
}
