// The account page: profile (a new email needs the current password), password change, and the
// sessions list with "sign out this device" and "sign out everywhere". Each form swaps itself.
import type { Session, User } from '../../storage/index.js';
import { field, firstError, hidden, message, passwordRule, type FieldErrors } from '../forms.js';
import { html, type SafeHtml } from '../html.js';

export interface ProfileFormState {
  readonly csrfToken: string;
  readonly user: User;
  /** What was typed (after a refused submit); otherwise the stored values are shown. */
  readonly values?: Readonly<Record<string, string | undefined>>;
  readonly errors?: FieldErrors;
  readonly notice?: string;
}

const PROFILE_FIELDS = ['full_name', 'email', 'current_password'] as const;

export function profileForm(s: ProfileFormState): SafeHtml {
  const errors = s.errors ?? {};
  const focus = firstError(errors, PROFILE_FIELDS);
  const value = (name: 'full_name' | 'email', stored: string | null) => s.values?.[name] ?? stored ?? '';
  return html`<form id="profile-form" class="card" method="post" action="/account/profile" hx-patch="/account/profile" hx-target="this" hx-swap="outerHTML" novalidate>
  <h2 id="profile-heading">Profile</h2>
  ${message('ok', s.notice, { focus: true })}
  ${message('error', errors._form, { focus: focus === undefined })}
  ${hidden('csrf_token', s.csrfToken)}
  <p class="muted">Username: <strong>${s.user.username}</strong></p>
  ${field({ form: 'profile', name: 'full_name', label: 'Full name', value: value('full_name', s.user.fullName), autocomplete: 'name', optional: true, maxlength: 200, error: errors.full_name, focus: focus === 'full_name' })}
  ${field({ form: 'profile', name: 'email', label: 'Email', type: 'email', value: value('email', s.user.email), autocomplete: 'email', required: true, maxlength: 320, error: errors.email, focus: focus === 'email' })}
  ${field({
    form: 'profile', name: 'current_password', label: 'Current password', type: 'password', autocomplete: 'current-password', maxlength: 1024,
    hint: 'Needed only to change your email.', error: errors.current_password, focus: focus === 'current_password',
  })}
  <button type="submit">Save profile</button>
</form>`;
}

export interface PasswordFormState {
  readonly csrfToken: string;
  readonly errors?: FieldErrors;
  readonly notice?: string;
  readonly passwordMinLength: number;
}

const PASSWORD_FIELDS = ['current_password', 'new_password'] as const;

export function passwordForm(s: PasswordFormState): SafeHtml {
  const errors = s.errors ?? {};
  const focus = firstError(errors, PASSWORD_FIELDS);
  return html`<form id="password-form" class="card" method="post" action="/account/password" hx-post="/account/password" hx-target="this" hx-swap="outerHTML" novalidate>
  <h2>Change password</h2>
  ${message('ok', s.notice, { focus: true })}
  ${message('error', errors._form, { focus: focus === undefined })}
  ${hidden('csrf_token', s.csrfToken)}
  ${field({ form: 'password', name: 'current_password', label: 'Current password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024, error: errors.current_password, focus: focus === 'current_password' })}
  ${field({
    form: 'password', name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password', required: true, maxlength: 1024,
    hint: `${passwordRule(s.passwordMinLength)} Every other session is signed out.`, error: errors.new_password, focus: focus === 'new_password',
  })}
  <button type="submit">Change password</button>
</form>`;
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export interface SessionsState {
  readonly csrfToken: string;
  readonly sessions: readonly Session[];
  readonly currentId: string | undefined;
  readonly oob?: boolean;
  readonly notice?: string;
}

export function sessionsList(s: SessionsState): SafeHtml {
  const rows = s.sessions.map((session) => {
    const current = session.id === s.currentId;
    return html`<tr id="session-${session.id}">
  <td>${when(session.createdAt)}</td>
  <td>${when(session.lastUsedAt)}</td>
  <td class="mono">${session.ip ?? '—'}</td>
  <td>${session.userAgent ?? '—'}</td>
  <td>${current ? html`<span class="badge badge-on">This device</span>` : ''}</td>
  <td><form method="post" action="/account/sessions/${encodeURIComponent(session.id)}/end" hx-post="/account/sessions/${encodeURIComponent(session.id)}/end" hx-target="#sessions" hx-swap="outerHTML">
    ${hidden('csrf_token', s.csrfToken)}<button type="submit" class="secondary small">Sign out ${current ? 'this device' : 'that device'}</button>
  </form></td>
</tr>`;
  });
  return html`<div id="sessions"${s.oob ? html` hx-swap-oob="true"` : ''}>
  ${message('ok', s.notice, { focus: true })}
  <div class="table-wrap"><table>
    <caption>${String(s.sessions.length)} signed-in session${s.sessions.length === 1 ? '' : 's'}</caption>
    <thead><tr><th scope="col">Signed in</th><th scope="col">Last used</th><th scope="col">IP</th><th scope="col">Browser</th><th scope="col"><span class="muted">Current</span></th><th scope="col">Action</th></tr></thead>
    <tbody>${rows}</tbody>
  </table></div>
</div>`;
}

export interface AccountPageState {
  readonly profile: ProfileFormState;
  readonly password: PasswordFormState;
  readonly sessions: SessionsState;
  readonly notice?: string;
}

export function accountPage(s: AccountPageState): SafeHtml {
  return html`<h1>Your account</h1>
${message('ok', s.notice, { focus: true })}
<div class="grid">
  ${profileForm(s.profile)}
  ${passwordForm(s.password)}
</div>
<section class="card" aria-labelledby="sessions-heading">
  <h2 id="sessions-heading">Sessions</h2>
  ${sessionsList(s.sessions)}
  <form method="post" action="/account/sessions/end-all" class="actions">
    ${hidden('csrf_token', s.sessions.csrfToken)}
    <button type="submit" class="danger">Sign out everywhere</button>
    <span class="muted">Ends every session, this one included.</span>
  </form>
</section>`;
}
