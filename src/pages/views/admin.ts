// The admin pages: the users table (search, paging, role and active toggles, one row swapped per
// change) and the audit log with its filters. Every value from the database is escaped by `html`.
import type { AuditEvent } from '../../storage/repositories/audit.js';
import type { User } from '../../storage/index.js';
import { field, hidden, message } from '../forms.js';
import { html, type SafeHtml } from '../html.js';

export interface Page {
  readonly limit: number;
  readonly offset: number;
  readonly total: number;
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

/** Previous / next links that keep the filters; htmx swaps the region and pushes the URL. */
function pager(base: string, params: Record<string, string | undefined>, page: Page, target: string): SafeHtml {
  const href = (offset: number) => {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) query.set(k, v);
    if (offset > 0) query.set('offset', String(offset));
    const text = query.toString();
    return text ? `${base}?${text}` : base;
  };
  const first = page.total === 0 ? 0 : page.offset + 1;
  const last = Math.min(page.offset + page.limit, page.total);
  const prev = page.offset > 0 ? Math.max(0, page.offset - page.limit) : undefined;
  const next = page.offset + page.limit < page.total ? page.offset + page.limit : undefined;
  const nav = (offset: number | undefined, label: string, rel: string) => offset === undefined ? html`<span class="muted">${label}</span>`
    : html`<a href="${href(offset)}" rel="${rel}" hx-get="${href(offset)}" hx-target="${target}" hx-swap="outerHTML" hx-push-url="true">${label}</a>`;
  return html`<nav class="pager" aria-label="Pages">${nav(prev, 'Previous', 'prev')}<span>${String(first)}&ndash;${String(last)} of ${String(page.total)}</span>${nav(next, 'Next', 'next')}</nav>`;
}

export interface UserRowState {
  readonly user: User;
  readonly csrfToken: string;
  readonly selfId: number;
  readonly q?: string;
  readonly offset: number;
}

export function userRow(s: UserRowState): SafeHtml {
  const u = s.user;
  const action = `/admin/users/${u.id}`;
  const toggle = (name: 'role' | 'is_active', value: string, label: string, kind: string) => html`<form method="post" action="${action}" hx-post="${action}" hx-target="#user-${String(u.id)}" hx-swap="outerHTML">
      ${hidden('csrf_token', s.csrfToken)}${hidden(name, value)}${hidden('q', s.q)}${hidden('offset', s.offset)}
      <button type="submit" class="${kind} small" aria-label="${label} ${u.username}">${label}</button></form>`;
  return html`<tr id="user-${String(u.id)}">
  <td>${String(u.id)}</td>
  <td>${u.username}${u.id === s.selfId ? html` <span class="muted">(you)</span>` : ''}</td>
  <td>${u.email}</td>
  <td>${u.fullName ?? ''}</td>
  <td>${u.role === 'admin' ? html`<span class="badge badge-admin">admin</span>` : html`<span class="badge">user</span>`}</td>
  <td>${u.isActive ? html`<span class="badge badge-on">active</span>` : html`<span class="badge badge-off">inactive</span>`}</td>
  <td class="actions">
    ${u.role === 'admin' ? toggle('role', 'user', 'Make user', 'secondary') : toggle('role', 'admin', 'Make admin', 'secondary')}
    ${u.isActive ? toggle('is_active', 'false', 'Deactivate', 'danger') : toggle('is_active', 'true', 'Activate', 'secondary')}
  </td>
</tr>`;
}

export interface UsersTableState {
  readonly users: readonly User[];
  readonly page: Page;
  readonly q?: string;
  readonly csrfToken: string;
  readonly selfId: number;
}

export function usersTable(s: UsersTableState): SafeHtml {
  const rows = s.users.map((user) => userRow({ user, csrfToken: s.csrfToken, selfId: s.selfId, q: s.q, offset: s.page.offset }));
  return html`<div id="users">
  <div class="table-wrap"><table>
    <caption>${s.q ? html`Users matching &ldquo;${s.q}&rdquo;` : 'All users'} (${String(s.page.total)})</caption>
    <thead><tr><th scope="col">ID</th><th scope="col">Username</th><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
    <tbody>${rows.length > 0 ? rows : html`<tr><td colspan="7" class="muted">No users match.</td></tr>`}</tbody>
  </table></div>
  ${pager('/admin', { q: s.q }, s.page, '#users')}
</div>`;
}

export function usersPage(s: UsersTableState): SafeHtml {
  return html`<h1>Users</h1>
<form class="toolbar" role="search" method="get" action="/admin" hx-get="/admin" hx-target="#users" hx-swap="outerHTML" hx-push-url="true" hx-trigger="submit, input changed delay:300ms from:#users-q">
  ${field({ form: 'users', name: 'q', label: 'Search username or email', type: 'search', value: s.q, maxlength: 100 })}
  <button type="submit">Search</button>
</form>
${usersTable(s)}`;
}

export interface AuditState {
  readonly events: readonly AuditEvent[];
  readonly page: Page;
  readonly actions: readonly string[];
  readonly filters: { readonly user_id?: string; readonly action?: string };
  readonly error?: string;
}

export function auditTable(s: AuditState): SafeHtml {
  const rows = s.events.map((e) => html`<tr>
  <td class="mono">${when(e.time)}</td><td>${e.action}</td>
  <td>${e.userId === null ? '—' : html`<a href="/admin/audit?user_id=${String(e.userId)}">${String(e.userId)}</a>`}</td>
  <td>${e.outcome}</td><td class="mono">${e.ip ?? '—'}</td><td>${e.userAgent ?? '—'}</td><td class="mono">${e.requestId ?? '—'}</td>
</tr>`);
  return html`<div id="audit">
  ${message('error', s.error, { focus: true })}
  <div class="table-wrap"><table>
    <caption>Audit events, newest first (${String(s.page.total)})</caption>
    <thead><tr><th scope="col">Time</th><th scope="col">Action</th><th scope="col">User</th><th scope="col">Outcome</th><th scope="col">IP</th><th scope="col">Browser</th><th scope="col">Request ID</th></tr></thead>
    <tbody>${rows.length > 0 ? rows : html`<tr><td colspan="7" class="muted">No events match.</td></tr>`}</tbody>
  </table></div>
  ${pager('/admin/audit', s.filters, s.page, '#audit')}
</div>`;
}

export function auditPage(s: AuditState): SafeHtml {
  const options = ['', ...s.actions].map((a) => html`<option value="${a}"${a === (s.filters.action ?? '') ? html` selected` : ''}>${a || 'Any action'}</option>`);
  return html`<h1>Audit log</h1>
<form class="toolbar" method="get" action="/admin/audit" hx-get="/admin/audit" hx-target="#audit" hx-swap="outerHTML" hx-push-url="true">
  ${field({ form: 'audit', name: 'user_id', label: 'User ID', value: s.filters.user_id, inputmode: 'numeric', maxlength: 15 })}
  <div class="field"><label for="audit-action">Action</label><select id="audit-action" name="action">${options}</select></div>
  <button type="submit">Filter</button>
</form>
${auditTable(s)}`;
}
