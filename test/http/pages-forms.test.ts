// The page forms over HTTP, with and without htmx: sign-in (one answer for any wrong part, next=),
// redirects to sign-in, sign-up with the API's own rules on each field, the account forms, and the
// admin switches going through the same services as the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, PASSWORD, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import { CookieJar, formToken, getPage, pageLogin, postForm } from '../helpers/browser-session.js';
import { enableTotp, TOTP_STEP_MS, totpCode } from '../helpers/mfa.js';

const HX = { 'hx-request': 'true' };

let t: TestApp;
beforeAll(async () => {
  t = await authApp();
  await register(t.app, { username: 'alice', full_name: 'Alice Doe' });
  await registerAdmin(t.app, 'admin');
});
afterAll(() => t?.close());

describe('signing in through the page', () => {
  it('a correct form post sets the session cookies and sends the browser to next (303); htmx gets HX-Redirect', async () => {
    const jar = new CookieJar();
    const form = await getPage(t.app, '/login?next=%2Fadmin%2Faudit%3Faction%3Dlogout', jar);
    expect(form.body).toContain('name="next" value="/admin/audit?action=logout"');
    const res = await postForm(t.app, '/login', { username: 'alice', password: PASSWORD, csrf_token: formToken(form.body), next: '/admin/audit?action=logout' }, jar);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/audit?action=logout');
    expect([...jar.values.keys()].sort()).toEqual(['access_token', 'csrf_token', 'login_csrf', 'refresh_token']);
    expect(res.headers['cache-control']).toBe('no-store');

    const hx = new CookieJar();
    const page = await getPage(t.app, '/login', hx);
    const viaHtmx = await postForm(t.app, '/login', { username: 'alice@example.com', password: PASSWORD, csrf_token: formToken(page.body) }, hx, HX);
    expect(viaHtmx.statusCode).toBe(200);
    expect(viaHtmx.headers['hx-redirect']).toBe('/account');
    expect(hx.get('access_token')).toBeDefined();
  });

  it('a wrong password and an unknown user get the same 401 page, naming no field', async () => {
    const jar = new CookieJar();
    const token = formToken((await getPage(t.app, '/login', jar)).body);
    const wrongPassword = await postForm(t.app, '/login', { username: 'alice', password: 'not the password', csrf_token: token }, jar, HX);
    const unknownUser = await postForm(t.app, '/login', { username: 'nobody', password: 'not the password', csrf_token: token }, jar, HX);
    for (const res of [wrongPassword, unknownUser]) {
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.body).toContain('role="alert"');
      expect(res.body).toContain('Incorrect username or password');
      expect(res.body).not.toContain('aria-invalid');
      expect(res.headers['set-cookie'] ?? '').not.toMatch(/access_token/);
    }
    expect(wrongPassword.body.replace('value="alice"', 'value="nobody"')).toBe(unknownUser.body);
  });

  it('a page that needs a session redirects to sign-in (303) with next; htmx gets 401 and HX-Redirect', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/admin/audit?action=logout' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/login?next=${encodeURIComponent('/admin/audit?action=logout')}`);
    const hx = await t.app.inject({ method: 'GET', url: '/account', headers: HX });
    expect(hx.statusCode).toBe(401);
    expect(hx.headers['hx-redirect']).toBe('/login?next=%2Faccount');
    expect(hx.headers['www-authenticate']).toBe('Bearer');
    // With a cookie that was refused, the challenge says so (contract: invalid_token when a token was given).
    const hxRefused = await t.app.inject({ method: 'GET', url: '/account', headers: { ...HX, cookie: 'access_token=not.a.jwt' } });
    expect(hxRefused.statusCode).toBe(401);
    expect(hxRefused.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    // A revoked or garbled access cookie is the same as none.
    const garbled = await t.app.inject({ method: 'GET', url: '/account', headers: { cookie: 'access_token=not.a.jwt' } });
    expect(garbled.statusCode).toBe(303);
    expect(garbled.headers.location).toBe('/login?next=%2Faccount');
  });

  it('the sign-in page of a browser whose access cookie lapsed offers to resume the session', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/login?next=%2Fadmin', headers: { cookie: 'csrf_token=abc' } });
    expect(res.body).toContain('<meta name="session-resume" content="/admin">');
    expect(res.body).toContain('<meta name="csrf-cookie" content="csrf_token">');
    const fresh = await t.app.inject({ method: 'GET', url: '/login' });
    expect(fresh.body).not.toContain('session-resume');
  });
});

describe('signing up through the page', () => {
  async function signUp(fields: Record<string, string>, headers: Record<string, string> = {}) {
    const jar = new CookieJar();
    const token = formToken((await getPage(t.app, '/register', jar)).body);
    return postForm(t.app, '/register', { email: '', username: '', full_name: '', password: '', ...fields, csrf_token: token }, jar, headers);
  }
  const fieldError = (html: string, id: string) => new RegExp(`<p class="field-error" id="${id}-error">([^<]*)</p>`).exec(html)?.[1];

  it('shows the API\'s rules next to each field (422), all at once, with aria-invalid and aria-describedby', async () => {
    const input = { email: 'not-an-email', username: 'a!', password: 'password' };
    const res = await signUp(input, HX);
    expect(res.statusCode).toBe(422);
    expect(res.body.startsWith('<form id="register-form"')).toBe(true);
    expect(fieldError(res.body, 'register-email')).toBe('Enter a valid email address.');
    expect(fieldError(res.body, 'register-username')).toBe('Use 3–50 letters, digits or underscores.');
    expect(res.body).toMatch(/id="register-email"[^>]* aria-invalid="true" aria-describedby="register-email-error"/);
    expect(res.body).toMatch(/id="register-password"[^>]* aria-invalid="true" aria-describedby="register-password-hint register-password-error"/);
    // The password message is the service's own policy, word for word what the API says.
    const api = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'ok@example.com', username: 'okname', password: 'password' } });
    expect(api.statusCode).toBe(422);
    expect(fieldError(res.body, 'register-password')).toBe(api.json().detail[0].msg);
    expect(res.body).not.toContain('value="password"');
    expect(await t.storage.users.findByLogin('a!')).toBeUndefined();
  });

  it('a taken username is refused on its field (409); a good form creates the account and goes to sign-in', async () => {
    const taken = await signUp({ email: 'new@example.com', username: 'ALICE', password: PASSWORD });
    expect(taken.statusCode).toBe(409);
    expect(fieldError(taken.body, 'register-username')).toBe('Username already registered');
    expect(taken.body).toContain('value="new@example.com"');
    const ok = await signUp({ email: 'carol@example.com', username: 'carol', full_name: 'Carol', password: PASSWORD });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/login?registered=1');
    expect((await t.storage.users.findByLogin('carol'))!).toMatchObject({ email: 'carol@example.com', fullName: 'Carol', role: 'user' });
  });
});

describe('the account page', () => {
  it('profile: a new email needs the current password (403 on the field); unknown fields are 422 and never applied', async () => {
    const { jar, csrf } = await pageLogin(t.app, 'alice');
    const noPassword = await postForm(t.app, '/account/profile', { full_name: 'Alice D.', email: 'alice2@example.com', current_password: '', csrf_token: csrf }, jar, HX, 'PATCH');
    expect(noPassword.statusCode).toBe(403);
    expect(noPassword.body).toContain('Enter your current password to change your email.');
    const wrong = await postForm(t.app, '/account/profile', { full_name: 'Alice D.', email: 'alice2@example.com', current_password: 'nope', csrf_token: csrf }, jar, HX, 'PATCH');
    expect(wrong.statusCode).toBe(403);
    expect(wrong.body).toMatch(/id="profile-current-password-error">Incorrect password</);
    const role = await postForm(t.app, '/account/profile', { full_name: 'Alice', email: 'alice@example.com', role: 'admin', csrf_token: csrf }, jar);
    expect(role.statusCode).toBe(422);
    const stored = (await t.storage.users.findByLogin('alice'))!;
    expect({ fullName: stored.fullName, email: stored.email, role: stored.role }).toEqual({ fullName: 'Alice Doe', email: 'alice@example.com', role: 'user' });

    const ok = await postForm(t.app, '/account/profile', { full_name: 'Alice D.', email: 'alice2@example.com', current_password: PASSWORD, csrf_token: csrf }, jar, HX, 'PATCH');
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('Profile saved.');
    expect(ok.body).toContain('<span id="nav-user" hx-swap-oob="true">Signed in as <strong>Alice D.</strong></span>');
    const plain = await postForm(t.app, '/account/profile', { full_name: 'Alice Doe', email: 'alice@example.com', current_password: PASSWORD, csrf_token: csrf }, jar);
    expect(plain.statusCode).toBe(303);
    expect(plain.headers.location).toBe('/account?notice=profile');
  });

  it('password change ends the other sessions; signing out this device clears the cookies', async () => {
    await register(t.app, { username: 'dora' });
    const here = await pageLogin(t.app, 'dora');
    const there = await pageLogin(t.app, 'dora');
    const res = await postForm(t.app, '/account/password', { current_password: PASSWORD, new_password: 'another fine passphrase', csrf_token: here.csrf }, here.jar);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/account?notice=password');
    expect((await getPage(t.app, '/account', there.jar)).statusCode).toBe(303);
    const page = await getPage(t.app, '/account', here.jar);
    expect(page.statusCode).toBe(200);
    const sid = /action="\/account\/sessions\/([^/"]+)\/end"/.exec(page.body)![1]!;
    const end = await postForm(t.app, `/account/sessions/${sid}/end`, { csrf_token: here.csrf }, here.jar);
    expect(end.statusCode).toBe(303);
    expect(end.headers.location).toBe('/login?signed_out=1');
    expect(here.jar.get('access_token')).toBeUndefined();
  });
});

describe('signing out through the page', () => {
  /** The sign-out form's fields, as the page rendered them. */
  async function signOutFields(jar: CookieJar): Promise<Record<string, string>> {
    const page = await getPage(t.app, '/account', jar);
    const form = /<form method="post" action="\/logout">(.*?)<\/form>/s.exec(page.body)![1]!;
    return Object.fromEntries([...form.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  }
  const refreshWith = (refreshToken: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshToken } });

  it('ends the session on the server even when the access cookie has lapsed (the browser no longer sends it)', async () => {
    await register(t.app, { username: 'erin' });
    const { jar } = await pageLogin(t.app, 'erin');
    const fields = await signOutFields(jar);
    const refresh = jar.get('refresh_token')!;
    // Max-Age ran out: the browser drops access_token; the refresh cookie is never sent outside /api/v1/auth.
    const res = await postForm(t.app, '/logout', fields, jar.without('access_token', 'refresh_token'));
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/login?signed_out=1');
    expect((await refreshWith(refresh)).statusCode).toBe(401);
    const { events } = await t.storage.audit.list({ limit: 1, offset: 0, action: 'logout' });
    expect(events[0]).toMatchObject({ action: 'logout', outcome: 'success', userId: (await t.storage.users.findByLogin('erin'))!.id });
  });

  it('a session id without its own CSRF token (another session\'s, or none) ends nothing', async () => {
    await register(t.app, { username: 'fern' });
    const victim = await pageLogin(t.app, 'fern');
    const victimSession = (await signOutFields(victim.jar)).session!;
    const attacker = await pageLogin(t.app, 'alice');
    const attackerFields = await signOutFields(attacker.jar);
    const forged = await postForm(t.app, '/logout', { csrf_token: attackerFields.csrf_token!, session: victimSession }, attacker.jar.without('access_token', 'refresh_token'));
    expect(forged.statusCode).toBe(303);
    const bare = await postForm(t.app, '/logout', { session: victimSession }, new CookieJar());
    expect(bare.statusCode).toBe(303);
    expect((await refreshWith(victim.jar.get('refresh_token')!)).statusCode).toBe(200);
  });
});

describe('the admin pages', () => {
  it('search and paging over the users; the role switch goes through the service (and is audited)', async () => {
    const { jar, csrf } = await pageLogin(t.app, 'admin');
    const table = await getPage(t.app, '/admin?q=ALI', jar, HX);
    expect(table.statusCode).toBe(200);
    expect(table.body.startsWith('<div id="users">')).toBe(true);
    expect(table.body).toContain('alice@example.com');
    expect(table.body).not.toContain('admin@example.com');
    const alice = (await t.storage.users.findByLogin('alice'))!;
    const promoted = await postForm(t.app, `/admin/users/${alice.id}`, { role: 'admin', q: 'ALI', csrf_token: csrf }, jar, HX);
    expect(promoted.statusCode).toBe(200);
    expect(promoted.body).toContain(`<tr id="user-${alice.id}">`);
    expect((await t.storage.users.findById(alice.id))!.role).toBe('admin');
    const back = await postForm(t.app, `/admin/users/${alice.id}`, { role: 'user', q: 'ALI', offset: '0', csrf_token: csrf }, jar);
    expect(back.statusCode).toBe(303);
    expect(back.headers.location).toBe('/admin?q=ALI');
    const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'user.role_change', userId: alice.id });
    expect(events).toHaveLength(2);
    expect((await postForm(t.app, '/admin/users/999999', { is_active: 'false', csrf_token: csrf }, jar)).statusCode).toBe(404);
  });

  it('the audit log filters by action and user', async () => {
    const { jar } = await pageLogin(t.app, 'admin');
    const res = await getPage(t.app, '/admin/audit?action=login.failure', jar, HX);
    expect(res.statusCode).toBe(200);
    const actions = [...res.body.matchAll(/<td class="mono">[^<]+<\/td><td>([a-z_.]+)<\/td>/g)].map((m) => m[1]);
    expect(actions.length).toBeGreaterThan(0);
    expect(new Set(actions)).toEqual(new Set(['login.failure']));
  });
});

describe('a token narrowed by scope on the pages', () => {
  // The API refuses a profile:read token PATCH /users/me (403); a page form must not do it for it.
  const narrowed = async (username: string, scope: string) => (await tokenFor(t.app, username, PASSWORD, { scope })).access_token;

  it('signs no page in, as a bearer token or in the access cookie: the account, its forms and MFA stay out of reach', async () => {
    const readOnly = await narrowed('alice', 'profile:read');
    expect((await t.app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: bearer(readOnly), payload: { full_name: 'X' } })).statusCode).toBe(403);
    for (const headers of [bearer(readOnly), { cookie: `access_token=${readOnly}` }]) {
      const page = await t.app.inject({ method: 'GET', url: '/account', headers });
      expect(page.statusCode).toBe(303);
      expect(page.headers.location).toBe('/login?next=%2Faccount');
      expect(page.body).not.toContain('csrf_token');
      for (const [url, fields] of [['/account/profile', { full_name: 'Taken Over' }], ['/account/password', { current_password: PASSWORD, new_password: 'an entirely new passphrase' }], ['/account/api-keys', { name: 'k', scopes: 'profile:read' }], ['/account/mfa/setup', {}], ['/account/sessions/end-all', {}]] as const) {
        const res = await t.app.inject({ method: 'POST', url, headers: { ...headers, origin: t.app.gatehouse.config.publicUrl, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() });
        expect(res.statusCode, url).toBe(303);
        expect(res.headers.location, url).toMatch(/^\/login\?next=/);
      }
    }
    const alice = (await t.storage.users.findByLogin('alice'))!;
    expect(alice.fullName).toBe('Alice Doe');
    expect(alice.mfaSecret ?? null).toBeNull();
    expect(await t.storage.apiKeys.listForUser(alice.id)).toHaveLength(0);
    expect((await tokenFor(t.app, 'alice')).access_token).toEqual(expect.any(String));
    // A token with every scope of the role still signs the page in.
    expect((await t.app.inject({ method: 'GET', url: '/account', headers: bearer((await tokenFor(t.app, 'alice')).access_token) })).statusCode).toBe(200);
  });

  it('an admin token without the admin scope reaches no admin page and changes no user', async () => {
    const token = await narrowed('admin', 'profile:read profile:write');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(token) })).statusCode).toBe(403);
    for (const url of ['/admin', '/admin/audit']) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(token) });
      expect(res.statusCode, url).toBe(303);
      expect(res.body).not.toContain('alice@example.com');
    }
    const alice = (await t.storage.users.findByLogin('alice'))!;
    const res = await t.app.inject({ method: 'POST', url: `/admin/users/${alice.id}`, headers: { ...bearer(token), origin: t.app.gatehouse.config.publicUrl, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'role=admin' });
    expect(res.statusCode).toBe(303);
    expect((await t.storage.users.findById(alice.id))!.role).toBe('user');
  });
});

describe('signing in through the page with two-factor on', () => {
  let m: TestApp;
  const clock = new FakeClock(Date.UTC(2026, 5, 1));
  let secret: string;
  beforeAll(async () => {
    // The contract's lockout: five failures lock the account.
    m = await authApp({ clock, env: { RATE_LIMIT_AUTH: '1000/minute', LOCKOUT_THRESHOLD: '5' } });
    await register(m.app, { username: 'mia' });
    ({ secret } = await enableTotp(m.app, (await tokenFor(m.app, 'mia')).access_token, clock));
    clock.advance(TOTP_STEP_MS);
  });
  afterAll(() => m?.close());

  it('the code step asks for the password again; a post with only the code says so and never counts toward the lockout', async () => {
    const jar = new CookieJar();
    const token = formToken((await getPage(m.app, '/login', jar)).body);
    const step = await postForm(m.app, '/login', { username: 'mia', password: PASSWORD, csrf_token: token }, jar, HX);
    expect(step.statusCode).toBe(401);
    expect(step.body).toContain('Enter your password again, and the code from your authenticator app.');
    expect(step.body).toContain('name="otp"');
    expect(step.body).not.toContain(PASSWORD);
    // The slip a user makes on that step, more times than the lockout allows.
    for (let i = 0; i < 6; i++) {
      const codeOnly = await postForm(m.app, '/login', { username: 'mia', password: '', otp: totpCode(secret, clock.now()), csrf_token: token }, jar, HX);
      expect(codeOnly.statusCode).toBe(422);
      expect(codeOnly.body).toContain('Enter your password again, and the code from your authenticator app.');
      expect(codeOnly.body).toContain('name="otp"');
    }
    const signedIn = await postForm(m.app, '/login', { username: 'mia', password: PASSWORD, otp: totpCode(secret, clock.now()), csrf_token: token }, jar, HX);
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    expect(signedIn.headers['hx-redirect']).toBe('/account');
    // Asking for the code is not a failure, and the code-only posts were never tried as passwords.
    const { events } = await m.storage.audit.list({ limit: 10, offset: 0, action: 'login.failure' });
    expect(events).toEqual([]);
    // A code that is refused is said to be refused, not asked for as if none was sent.
    const fresh = new CookieJar();
    const wrongCode = totpCode(secret, clock.now()) === '000000' ? '111111' : '000000';
    const refused = await postForm(m.app, '/login', { username: 'mia', password: PASSWORD, otp: wrongCode, csrf_token: formToken((await getPage(m.app, '/login', fresh)).body) }, fresh, HX);
    expect(refused.statusCode, refused.body).toBe(401);
    expect(refused.body).toContain('That two-factor code was not accepted: it is wrong, expired or already used.');
    expect(refused.body).toContain('name="otp"');
  });
});
