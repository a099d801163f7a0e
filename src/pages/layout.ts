// The page shell: head (CSP-nonce'd scripts, htmx config, CSRF and session metadata), skip link,
// navigation, the flash region htmx retargets errors into, and the main landmark.
import { assetUrl, HTMX_CONFIG } from './assets/index.js';
import { hidden } from './forms.js';
import { html, type SafeHtml } from './html.js';

/** Who the navigation is for: enough to greet them and show the admin links. */
export interface NavViewer {
  readonly displayName: string;
  readonly isAdmin: boolean;
  readonly csrfToken: string;
  /** The session the page was rendered for: signing out still ends it after the access cookie has lapsed. */
  readonly sessionId: string;
}

export type NavItem = 'account' | 'api-keys' | 'mfa' | 'admin-users' | 'admin-audit' | 'login' | 'register';

export interface LayoutOptions {
  readonly nonce: string;
  readonly title: string;
  readonly main: SafeHtml;
  readonly viewer?: NavViewer | null;
  readonly active?: NavItem;
  /** Seconds until the access cookie expires: app.js refreshes the session shortly before. */
  readonly sessionExpiresIn?: number;
  /** Name of the readable csrf cookie (the script reads it when the page has no token of its own). */
  readonly csrfCookie?: string;
  /** On the sign-in page of a browser with a lapsed access cookie: where to go once the session resumes. */
  readonly resumeTo?: string;
  /** A document-level referrer policy stricter than the header's (a page whose URL may hold a secret). */
  readonly referrer?: 'no-referrer';
  /** Error pages show the bare shell: no navigation that would need a signed-in state. */
  readonly bare?: boolean;
}

const HTMX_CONFIG_JSON = JSON.stringify(HTMX_CONFIG);

function link(href: string, label: string, item: NavItem, active: NavItem | undefined): SafeHtml {
  return html`<li><a href="${href}"${active === item ? html` aria-current="page"` : ''}>${label}</a></li>`;
}

/** The greeting, also sent out-of-band after a profile edit so the header follows the new name. */
export function navUser(displayName: string, oob = false): SafeHtml {
  return html`<span id="nav-user"${oob ? html` hx-swap-oob="true"` : ''}>Signed in as <strong>${displayName}</strong></span>`;
}

function navigation(viewer: NavViewer | null | undefined, active: NavItem | undefined): SafeHtml {
  if (!viewer) {
    return html`<nav aria-label="Main"><ul class="nav">${link('/login', 'Sign in', 'login', active)}${link('/register', 'Create account', 'register', active)}</ul></nav>`;
  }
  return html`<nav aria-label="Main"><ul class="nav">
  ${link('/account', 'Account', 'account', active)}
  ${link('/account/api-keys', 'API keys', 'api-keys', active)}
  ${link('/account/mfa', 'Two-factor', 'mfa', active)}
  ${viewer.isAdmin ? [link('/admin', 'Users', 'admin-users', active), link('/admin/audit', 'Audit log', 'admin-audit', active)] : ''}
</ul></nav>
<div class="nav-user">${navUser(viewer.displayName)}
  <form method="post" action="/logout">${hidden('csrf_token', viewer.csrfToken)}${hidden('session', viewer.sessionId)}<button type="submit" class="link-button">Sign out</button></form>
</div>`;
}

export function layout(o: LayoutOptions): string {
  const viewer = o.bare ? null : o.viewer;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${o.referrer ? html`<meta name="referrer" content="${o.referrer}">` : ''}
<title>${o.title} · Gatehouse</title>
<meta name="htmx-config" content="${HTMX_CONFIG_JSON}">
${viewer ? html`<meta name="csrf-token" content="${viewer.csrfToken}">` : ''}
${o.csrfCookie ? html`<meta name="csrf-cookie" content="${o.csrfCookie}">` : ''}
${viewer && o.sessionExpiresIn !== undefined ? html`<meta name="session-expires-in" content="${String(o.sessionExpiresIn)}">` : ''}
${o.resumeTo ? html`<meta name="session-resume" content="${o.resumeTo}">` : ''}
<link rel="icon" type="image/svg+xml" href="${assetUrl('icon')}">
<link rel="stylesheet" href="${assetUrl('stylesheet')}">
<script nonce="${o.nonce}" src="${assetUrl('htmx')}" defer></script>
<script nonce="${o.nonce}" src="${assetUrl('script')}" defer></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header">
<a class="brand" href="/">Gatehouse</a>
${o.bare ? '' : navigation(viewer, o.active)}
</header>
<div id="flash" class="flash" aria-live="polite"></div>
<main id="main" tabindex="-1">
${o.main}
</main>
<footer>Gatehouse</footer>
</body>
</html>
`.value;
}
