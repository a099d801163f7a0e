// The sign-in and sign-up forms. Sign-in failures say only "Incorrect username or password"
// (OWASP Authentication Cheat Sheet: never reveal which part was wrong); sign-up shows the API's
// own validation and password-policy messages next to the fields they are about.
import { field, firstError, hidden, message, passwordRule, type FieldErrors } from '../forms.js';
import { html, type SafeHtml } from '../html.js';

export interface LoginFormState {
  readonly csrfToken: string;
  readonly next: string;
  readonly username?: string;
  readonly error?: string;
  /** The account has two-factor on: ask for the code (the password is asked again, never echoed). */
  readonly otpRequired?: boolean;
  readonly notice?: string;
}

export function loginForm(s: LoginFormState): SafeHtml {
  const errorId = s.error ? 'login-error' : undefined;
  return html`<form id="login-form" class="card narrow" method="post" action="/login" hx-post="/login" hx-target="this" hx-swap="outerHTML" novalidate${errorId ? html` aria-describedby="${errorId}"` : ''}>
  <h1>Sign in</h1>
  ${message('ok', s.notice)}
  ${message('error', s.error, { id: errorId, focus: true })}
  ${hidden('csrf_token', s.csrfToken)}
  ${hidden('next', s.next)}
  ${field({ form: 'login', name: 'username', label: 'Username or email', value: s.username, autocomplete: 'username', required: true, maxlength: 320, focus: !s.error && !s.otpRequired })}
  ${field({ form: 'login', name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 })}
  ${s.otpRequired ? field({
    form: 'login', name: 'otp', label: 'Two-factor code', autocomplete: 'one-time-code', inputmode: 'numeric', required: true, maxlength: 64,
    hint: 'The 6-digit code from your authenticator app, or a recovery code.',
  }) : ''}
  <div class="actions">
    <button type="submit">Sign in</button>
    <a href="/forgot-password">Forgot your password?</a>
    <a href="/register">Create an account</a>
  </div>
</form>`;
}

export interface RegisterFormState {
  readonly csrfToken: string;
  readonly values?: Readonly<Record<string, string | undefined>>;
  readonly errors?: FieldErrors;
  readonly passwordMinLength: number;
}

const REGISTER_FIELDS = ['email', 'username', 'full_name', 'password'] as const;

export function registerForm(s: RegisterFormState): SafeHtml {
  const errors = s.errors ?? {};
  const values = s.values ?? {};
  const focus = firstError(errors, REGISTER_FIELDS);
  const common = (name: (typeof REGISTER_FIELDS)[number]) => ({ form: 'register', name, value: values[name], error: errors[name], focus: focus === name });
  return html`<form id="register-form" class="card narrow" method="post" action="/register" hx-post="/register" hx-target="this" hx-swap="outerHTML" novalidate>
  <h1>Create an account</h1>
  ${message('error', errors._form, { focus: focus === undefined })}
  ${hidden('csrf_token', s.csrfToken)}
  ${field({ ...common('email'), label: 'Email', type: 'email', autocomplete: 'email', required: true, maxlength: 320 })}
  ${field({ ...common('username'), label: 'Username', autocomplete: 'username', required: true, maxlength: 50, hint: '3–50 letters, digits or underscores.' })}
  ${field({ ...common('full_name'), label: 'Full name', autocomplete: 'name', optional: true, maxlength: 200 })}
  ${field({
    ...common('password'), label: 'Password', type: 'password', autocomplete: 'new-password', required: true, maxlength: 1024,
    hint: passwordRule(s.passwordMinLength),
  })}
  <div class="actions">
    <button type="submit">Create account</button>
    <a href="/login">I already have an account</a>
  </div>
</form>`;
}
