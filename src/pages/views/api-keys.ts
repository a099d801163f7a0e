// The API keys page: create a key (shown once, in a no-store response), list keys without their
// secrets, revoke. Scopes offered are those the user's session holds; the service decides the rest.
import type { ApiKey } from '../../storage/index.js';
import { checkboxes, field, firstError, hidden, message, type FieldErrors } from '../forms.js';
import { html, type SafeHtml } from '../html.js';

const SCOPE_LABELS: Record<string, string> = {
  'profile:read': 'profile:read — read your profile',
  'profile:write': 'profile:write — change your profile',
  admin: 'admin — the admin API, while you are an admin',
};

function when(ms: number | null): string {
  return ms === null ? '—' : new Date(ms).toISOString().slice(0, 10);
}

export interface KeyFormState {
  readonly csrfToken: string;
  readonly scopes: readonly string[];
  readonly values?: { readonly name?: string; readonly scopes?: readonly string[]; readonly expires_in_days?: string };
  readonly errors?: FieldErrors;
  /** The key just created: shown this once. */
  readonly created?: { readonly name: string; readonly key: string };
}

const KEY_FIELDS = ['name', 'scopes', 'expires_in_days'] as const;

export function keyForm(s: KeyFormState): SafeHtml {
  const errors = s.errors ?? {};
  const focus = firstError(errors, KEY_FIELDS);
  const values = s.values ?? {};
  return html`<form id="api-key-form" class="card" method="post" action="/account/api-keys" hx-post="/account/api-keys" hx-target="this" hx-swap="outerHTML" novalidate>
  <h2>New key</h2>
  ${s.created ? html`<div class="alert alert-ok" role="status" tabindex="-1" data-focus>
    <p>Key &ldquo;${s.created.name}&rdquo; created. Copy it now: it is shown only this once.</p>
    <label for="api-key-created">Your new key</label>
    <input id="api-key-created" class="secret" type="text" readonly value="${s.created.key}">
  </div>` : ''}
  ${message('error', errors._form, { focus: focus === undefined })}
  ${hidden('csrf_token', s.csrfToken)}
  ${field({ form: 'api-key', name: 'name', label: 'Name', value: values.name, required: true, maxlength: 100, hint: 'What the key is for, e.g. "CI deploys".', error: errors.name, focus: focus === 'name' })}
  ${checkboxes({
    form: 'api-key', name: 'scopes', legend: 'Scopes', checked: values.scopes ?? ['profile:read'], error: errors.scopes, focus: focus === 'scopes',
    options: s.scopes.map((value) => ({ value, label: SCOPE_LABELS[value] ?? value })),
  })}
  ${field({ form: 'api-key', name: 'expires_in_days', label: 'Expires in (days)', type: 'number', value: values.expires_in_days, optional: true, inputmode: 'numeric', hint: 'Leave empty for a key that does not expire.', error: errors.expires_in_days, focus: focus === 'expires_in_days' })}
  <button type="submit">Create key</button>
</form>`;
}

export interface KeyListState {
  readonly csrfToken: string;
  readonly keys: readonly ApiKey[];
  readonly notice?: string;
  readonly oob?: boolean;
}

export function keyList(s: KeyListState): SafeHtml {
  const live = s.keys.filter((k) => k.revokedAt === null);
  const rows = live.map((k) => html`<tr id="api-key-${k.id}">
  <td>${k.name}</td><td class="mono">${k.prefix}&hellip;</td><td>${k.scopes.join(', ')}</td>
  <td>${when(k.createdAt)}</td><td>${when(k.expiresAt)}</td><td>${when(k.lastUsedAt)}</td>
  <td><form method="post" action="/account/api-keys/${encodeURIComponent(k.id)}/revoke" hx-post="/account/api-keys/${encodeURIComponent(k.id)}/revoke" hx-target="#api-keys" hx-swap="outerHTML">
    ${hidden('csrf_token', s.csrfToken)}<button type="submit" class="danger small" aria-label="Revoke ${k.name}">Revoke</button></form></td>
</tr>`);
  return html`<section id="api-keys" class="card" aria-labelledby="api-keys-heading"${s.oob ? html` hx-swap-oob="true"` : ''}>
  <h2 id="api-keys-heading">Your keys</h2>
  ${message('ok', s.notice, { focus: true })}
  <div class="table-wrap"><table>
    <caption>${String(live.length)} active key${live.length === 1 ? '' : 's'}; send one as the X-API-Key header.</caption>
    <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">Action</th></tr></thead>
    <tbody>${rows.length > 0 ? rows : html`<tr><td colspan="7" class="muted">No keys yet.</td></tr>`}</tbody>
  </table></div>
</section>`;
}

export function apiKeysPage(form: KeyFormState, list: KeyListState): SafeHtml {
  return html`<h1>API keys</h1>
<p class="muted">Keys act as you, within their scopes, for scripts and services. They can never manage keys, your password or two-factor sign-in.</p>
${keyForm(form)}
${keyList(list)}`;
}
