// The two-factor page: turn TOTP on (QR code and secret, then a first code; recovery codes shown
// once), set up a new authenticator, or turn it off with the password and a code.
import { field, hidden, message } from '../forms.js';
import { html, SafeHtml } from '../html.js';

export interface EnableFormState {
  readonly csrfToken: string;
  readonly error?: string;
}

export function enableForm(s: EnableFormState): SafeHtml {
  return html`<form id="mfa-enable-form" method="post" action="/account/mfa/enable" hx-post="/account/mfa/enable" hx-target="#mfa" hx-swap="outerHTML" novalidate>
  ${hidden('csrf_token', s.csrfToken)}
  ${field({
    form: 'mfa-enable', name: 'code', label: 'Code from your app', autocomplete: 'one-time-code', inputmode: 'numeric', required: true, maxlength: 64,
    hint: 'The 6-digit code your authenticator shows now.', error: s.error, focus: true,
  })}
  <div class="actions"><button type="submit">Turn on two-factor sign-in</button><a href="/account/mfa">Cancel</a></div>
</form>`;
}

export interface SetupState {
  readonly csrfToken: string;
  /** Generated SVG markup (paths only) from the QR encoder; trusted, never user input. */
  readonly qrSvg: string;
  readonly secret: string;
}

export function setupPanel(s: SetupState): SafeHtml {
  const grouped = s.secret.replace(/(.{4})/g, '$1 ').trim();
  return html`<section id="mfa" class="card" aria-labelledby="mfa-heading">
  <h2 id="mfa-heading">Set up your authenticator</h2>
  <p>Scan this code with an authenticator app (or type the key below), then enter the code it shows.</p>
  <div class="qr" role="img" aria-label="QR code holding your two-factor key">${new SafeHtml(s.qrSvg)}</div>
  <p><span class="muted">Key:</span> <code class="secret">${grouped}</code></p>
  ${enableForm({ csrfToken: s.csrfToken })}
</section>`;
}

export interface MfaState {
  readonly csrfToken: string;
  readonly enabled: boolean;
  readonly notice?: string;
  readonly error?: string;
  /** Shown once, right after MFA was turned on. */
  readonly recoveryCodes?: readonly string[];
}

export function mfaPanel(s: MfaState): SafeHtml {
  const setupButton = (label: string) => html`<form method="post" action="/account/mfa/setup" hx-post="/account/mfa/setup" hx-target="#mfa" hx-swap="outerHTML">
    ${hidden('csrf_token', s.csrfToken)}<button type="submit" class="${s.enabled ? 'secondary' : ''}">${label}</button></form>`;
  return html`<section id="mfa" class="card" aria-labelledby="mfa-heading">
  <h2 id="mfa-heading">Two-factor sign-in is ${s.enabled ? 'on' : 'off'}</h2>
  ${message('ok', s.notice, { focus: !s.recoveryCodes })}
  ${s.recoveryCodes ? html`<div class="alert alert-ok" role="status" tabindex="-1" data-focus>
    <p>Save these recovery codes somewhere safe. Each works once in place of a code, and they are shown only now.</p>
    <ol class="codes">${s.recoveryCodes.map((c) => html`<li>${c}</li>`)}</ol>
  </div>` : ''}
  ${s.enabled ? html`<p>Signing in asks for a code from your authenticator app.</p>
  ${setupButton('Set up a new authenticator')}
  <form id="mfa-disable-form" method="post" action="/account/mfa/disable" hx-post="/account/mfa/disable" hx-target="#mfa" hx-swap="outerHTML" novalidate>
    <h3>Turn it off</h3>
    ${message('error', s.error, { focus: true })}
    ${hidden('csrf_token', s.csrfToken)}
    ${field({ form: 'mfa-disable', name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 })}
    ${field({ form: 'mfa-disable', name: 'code', label: 'Code or recovery code', autocomplete: 'one-time-code', required: true, maxlength: 64 })}
    <button type="submit" class="danger">Turn off two-factor sign-in</button>
  </form>` : html`<p>Add a second step to signing in: a code from an authenticator app on your phone.</p>
  ${message('error', s.error, { focus: true })}
  ${setupButton('Set up two-factor sign-in')}`}
</section>`;
}

export function mfaPage(panel: SafeHtml): SafeHtml {
  return html`<h1>Two-factor sign-in</h1>
${panel}`;
}
