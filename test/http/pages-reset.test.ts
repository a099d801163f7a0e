// The "forgot password" and "reset password" pages over HTTP, with mail through a real SMTP server:
// one answer for known and unknown addresses; the token in no response at all (the link seals it into
// an HttpOnly cookie and redirects it out of the URL), nor in any header or log line; no-referrer said by
// the reset page's document (the header keeps the contract's value), the Origin and pre-session CSRF checks, one answer for dead links, single use, the auth budget.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { encrypt } from '../../src/crypto/encryption.js';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, login, register, tokenFor, me, expectInvalidToken } from '../helpers/auth.js';
import { CookieJar, formToken, getPage, postForm, setCookies } from '../helpers/browser-session.js';
import { resetLinkToken, startSmtp, type TestSmtp } from '../helpers/smtp.js';

/** The reset page's own, stricter referrer policy: its URL may hold a (dead) token. */
const NO_REFERRER_META = '<meta name="referrer" content="no-referrer">';

const PUBLIC_URL = 'http://gate.test';
const HX = { 'hx-request': 'true' };
const NEW_PASSWORD = 'a brand new passphrase';
const DEAD = 'Invalid or expired password reset token';

let t: TestApp;
let smtp: TestSmtp;
const clock = new FakeClock(Date.now());
/** Every response this file saw, to prove where a token does and does not appear. */
const seen: LightMyRequestResponse[] = [];

beforeAll(async () => {
  smtp = await startSmtp();
  t = await authApp({ clock, env: { SMTP_URL: smtp.url, PUBLIC_URL } });
  await register(t.app, { username: 'alice', email: 'alice@example.com' });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

const record = (res: LightMyRequestResponse) => (seen.push(res), res);
const get = async (url: string, jar: CookieJar, headers: Record<string, string> = {}) => record(await getPage(t.app, url, jar, headers));
const post = async (url: string, fields: Record<string, string>, jar: CookieJar, headers: Record<string, string | undefined> = {}) =>
  record(await postForm(t.app, url, fields, jar, headers));
/** The page with its per-response nonce blanked out: what is left must not vary. */
const stable = (body: string) => body.replace(/nonce="[^"]+"/g, 'nonce=""');

/** Asks for a reset through the page and returns the token of the link that arrives by mail. */
async function mailedToken(email: string): Promise<string> {
  const count = smtp.messages.length;
  const jar = new CookieJar();
  const form = await get('/forgot-password', jar);
  expect((await post('/forgot-password', { email, csrf_token: formToken(form.body) }, jar)).statusCode).toBe(303);
  const mail = (await smtp.waitFor(count + 1))[count]!;
  const token = resetLinkToken(mail.text, PUBLIC_URL);
  expect(token, mail.text).toBeDefined();
  return token!;
}

/** Opens the link from the mail as a browser does (following the redirect): the jar, the link's answer, the form. */
async function openLink(token: string): Promise<{ jar: CookieJar; link: LightMyRequestResponse; page: LightMyRequestResponse; csrf: string }> {
  const jar = new CookieJar();
  const link = await get(`/reset-password?token=${encodeURIComponent(token)}`, jar);
  expect(link.statusCode, link.body).toBe(303);
  expect(link.headers.location).toBe('/reset-password');
  const page = await get('/reset-password', jar);
  expect(page.statusCode).toBe(200);
  return { jar, link, page, csrf: formToken(page.body) };
}

describe('asking for a reset', () => {
  it('the sign-in page links to the form, which carries the pre-session CSRF token', async () => {
    const signIn = await get('/login', new CookieJar());
    expect(signIn.body).toContain('<a href="/forgot-password">Forgot your password?</a>');
    const jar = new CookieJar();
    const form = await get('/forgot-password', jar);
    expect(form.statusCode).toBe(200);
    expect(form.body).toMatch(/<form id="forgot-form"[^>]* method="post" action="\/forgot-password" hx-post="\/forgot-password"/);
    expect(formToken(form.body)).toMatch(/^\S{20,}$/);
    expect(jar.get('login_csrf')).toBeDefined();
    expect(form.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
  });

  it('a known, an unknown and an inactive address get identical answers, with and without htmx; only the known one gets a mail', async () => {
    const quiet = await register(t.app, { username: 'quiet', email: 'quiet@example.com' });
    await t.app.gatehouse.storage.users.update(quiet.id, { isActive: false }, clock.now());
    const jar = new CookieJar();
    const csrf = formToken((await get('/forgot-password', jar)).body);
    const before = smtp.messages.length;
    const answers = [];
    for (const email of ['alice@example.com', 'nobody@example.com', 'quiet@example.com']) {
      const plain = await post('/forgot-password', { email, csrf_token: csrf }, jar);
      const hx = await post('/forgot-password', { email, csrf_token: csrf }, jar, HX);
      answers.push({
        plain: { status: plain.statusCode, location: plain.headers.location, body: plain.body, cookie: plain.headers['set-cookie'] },
        hx: { status: hx.statusCode, type: hx.headers['content-type'], body: stable(hx.body), cookie: hx.headers['set-cookie'] },
      });
    }
    expect(answers[0]).toEqual({
      plain: { status: 303, location: '/forgot-password?sent=1', body: '', cookie: undefined },
      hx: { status: 200, type: 'text/html; charset=utf-8', body: expect.stringContaining('If an account exists for this address, a link to reset its password is on its way.'), cookie: undefined },
    });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    // The page a no-JS browser lands on says the same, and echoes nothing of the request.
    const sent = await get('/forgot-password?sent=1', jar);
    expect(sent.body).toContain('If an account exists for this address');
    expect(sent.body).not.toContain('@example.com');
    await t.app.gatehouse.passwordReset.settled();
    expect(smtp.messages.slice(before).map((m) => m.rcptTo)).toEqual([['alice@example.com'], ['alice@example.com']]);
  });

  it('a malformed or missing address is refused on its field (422), announced and focused', async () => {
    const jar = new CookieJar();
    const csrf = formToken((await get('/forgot-password', jar)).body);
    for (const email of ['not-an-email', '']) {
      const res = await post('/forgot-password', { email, csrf_token: csrf }, jar, HX);
      expect(res.statusCode, email).toBe(422);
      expect(res.body.startsWith('<form id="forgot-form"')).toBe(true);
      expect(res.body).toMatch(/id="forgot-email"[^>]* aria-invalid="true" aria-describedby="forgot-email-error" data-focus>/);
      expect(res.body).toContain('<p class="field-error" id="forgot-email-error">Enter a valid email address.</p>');
    }
  });
});

describe('choosing a new password', () => {
  it('the link seals its token into an HttpOnly cookie and redirects it out of the URL; the form holds no token', async () => {
    const token = await mailedToken('alice@example.com');
    const { link, page, jar } = await openLink(token);
    for (const res of [link, page]) {
      expect(res.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect(page.body).toContain(NO_REFERRER_META);
    const [cookie] = setCookies(link);
    expect(cookie).toMatchObject({ name: 'reset_link', attributes: { httponly: '', samesite: 'Lax', path: '/', 'max-age': '1800' } });
    expect(cookie!.value).not.toContain(token);
    expect(jar.get('reset_link')).toBe(cookie!.value);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'nonce-[^']+' 'strict-dynamic'/);
    expect(page.body).not.toContain(token);
    expect(page.body).not.toContain('name="token"');
    expect(page.body).toMatch(/id="reset-new-password" name="new_password" type="password" autocomplete="new-password"/);
    expect(page.body).toMatch(/id="reset-confirm-password" name="confirm_password" type="password"/);
  });

  it('policy and mismatch failures are field errors that keep the token working; success signs every session out', async () => {
    const user = await register(t.app, { username: 'bob', email: 'bob@example.com' });
    const session = await tokenFor(t.app, 'bob');
    const token = await mailedToken('bob@example.com');
    const { jar, csrf } = await openLink(token);
    const submit = (fields: Record<string, string>, headers: Record<string, string> = {}) => post('/reset-password', { csrf_token: csrf, ...fields }, jar, headers);

    const weak = await submit({ new_password: 'password123', confirm_password: 'password123' }, HX);
    expect(weak.statusCode).toBe(422);
    expect(weak.body.startsWith('<form id="reset-form"')).toBe(true);
    expect(weak.body).toMatch(/id="reset-new-password"[^>]* aria-invalid="true" aria-describedby="reset-new-password-hint reset-new-password-error" data-focus>/);
    expect(weak.body).toContain('<p class="field-error" id="reset-new-password-error">Password is too common</p>');
    expect(weak.body).not.toContain(token);
    expect(weak.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');

    const mismatch = await submit({ new_password: NEW_PASSWORD, confirm_password: `${NEW_PASSWORD}!` });
    expect(mismatch.statusCode).toBe(422);
    expect(mismatch.body).toMatch(/id="reset-confirm-password"[^>]* aria-invalid="true" aria-describedby="reset-confirm-password-error" data-focus>/);
    expect(mismatch.body).toContain('The two passwords do not match.');
    expect(mismatch.body).not.toContain(NEW_PASSWORD);
    expect((await login(t.app, 'bob')).statusCode).toBe(200);

    const done = await submit({ new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD });
    expect(done.statusCode, done.body).toBe(303);
    expect(done.headers.location).toBe('/login?reset=1');
    jar.take(done);
    expect(jar.get('reset_link')).toBeUndefined();
    const notice = await get('/login?reset=1', jar);
    expect(notice.body).toContain('Your password was changed and every session signed out. Sign in with your new password.');
    expect((await login(t.app, 'bob', NEW_PASSWORD)).statusCode).toBe(200);
    expect((await login(t.app, 'bob', PASSWORD)).statusCode).toBe(401);
    expectInvalidToken(await me(t.app, session.access_token));
    const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'password.reset', userId: user.id });
    expect(events.map((e) => e.outcome)).toEqual(['success']);
  });

  it('with htmx, success is an HX-Redirect to sign-in', async () => {
    await register(t.app, { username: 'hxuser', email: 'hxuser@example.com' });
    const token = await mailedToken('hxuser@example.com');
    const { jar, csrf } = await openLink(token);
    const res = await post('/reset-password', { csrf_token: csrf, new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD }, jar, HX);
    expect(res.statusCode).toBe(200);
    expect(res.headers['hx-redirect']).toBe('/login?reset=1');
    expect(res.body).toBe('');
  });

  it('a used, an expired, an unknown, a malformed or a forged link all get the same 400 page, which echoes nothing', async () => {
    await register(t.app, { username: 'carol', email: 'carol@example.com' });
    const used = await mailedToken('carol@example.com');
    const first = await openLink(used);
    // The same link opened in a second browser before the first one used it.
    const second = await openLink(used);
    const reset = { new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD };
    expect((await post('/reset-password', { csrf_token: first.csrf, ...reset }, first.jar)).statusCode).toBe(303);

    await register(t.app, { username: 'dave', email: 'dave@example.com' });
    const expired = await mailedToken('dave@example.com');
    const late = await openLink(expired);
    const lateSealed = late.jar.get('reset_link')!;
    clock.advance(31 * 60_000);

    const again = { new_password: 'yet another passphrase', confirm_password: 'yet another passphrase' };
    const forged = (value: string) => new CookieJar({ ...Object.fromEntries(late.jar.values), reset_link: value });
    const answers: LightMyRequestResponse[] = [
      await post('/reset-password', { csrf_token: second.csrf, ...again }, second.jar),
      await get('/reset-password', second.jar),
      await post('/reset-password', { csrf_token: late.csrf, ...again }, late.jar),
      await get('/reset-password', late.jar),
      await post('/reset-password', { csrf_token: late.csrf, ...again }, forged('v1.AAAA.BBBB.CCCC')),
      // A tampered sealed value.
      await post('/reset-password', { csrf_token: late.csrf, ...again }, forged(lateSealed.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))),
      await post('/reset-password', { csrf_token: late.csrf, ...again }, late.jar.without('reset_link')),
    ];
    for (const token of [used, expired, 'x'.repeat(43), 'short', '', '"><script>alert(1)</script>']) {
      answers.push(await get(`/reset-password?token=${encodeURIComponent(token)}`, new CookieJar()));
    }
    for (const res of answers) {
      expect(res.statusCode, res.body).toBe(400);
      expect(res.body).not.toContain(used);
      expect(res.body).not.toContain(expired);
      expect(res.body).not.toContain('<script>alert');
      expect(res.body).not.toContain('name="new_password"');
      expect(res.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
      expect(res.body).toContain(NO_REFERRER_META);
    }
    expect(new Set(answers.map((r) => stable(r.body))).size).toBe(1);
    expect(answers[0]!.body).toContain(DEAD);
    expect(answers[0]!.body).toContain('<a href="/forgot-password">Ask for a new link</a>');
    // A dead link's cookie is dropped with its answer.
    expect(new CookieJar({ reset_link: 'x' }).take(answers[2]!).get('reset_link')).toBeUndefined();
    expect((await login(t.app, 'carol', NEW_PASSWORD)).statusCode).toBe(200);
    expect((await login(t.app, 'dave')).statusCode).toBe(200);
  });

  it('only a value this server sealed for a reset link opens: not one sealed under another key or for another purpose', async () => {
    await register(t.app, { username: 'frank', email: 'frank@example.com' });
    const live = await mailedToken('frank@example.com');
    const key = t.app.gatehouse.derivedKeys.encryption;
    const browser = (sealed: string) => new CookieJar({ reset_link: sealed });
    const control = await get('/reset-password', browser(encrypt(key, live, 'reset-link')));
    expect(control.statusCode).toBe(200);
    expect(control.body).toContain('name="new_password"');
    for (const sealed of [encrypt(Buffer.alloc(32, 7), live, 'reset-link'), encrypt(key, live, 'totp:1'), live]) {
      const res = await get('/reset-password', browser(sealed));
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain(DEAD);
    }
  });
});

describe('the protections of the other anonymous forms', () => {
  it('a cross-origin post (prefix trick, null, missing, foreign) is refused before anything runs; the token still works', async () => {
    await register(t.app, { username: 'erin', email: 'erin@example.com' });
    const token = await mailedToken('erin@example.com');
    const { jar, csrf } = await openLink(token);
    const mailsBefore = smtp.messages.length;
    for (const origin of ['http://gate.test.evil.net', 'null', undefined, 'https://evil.example', 'http://gate.test:8080']) {
      for (const hx of [{}, HX]) {
        const forgot = await post('/forgot-password', { email: 'erin@example.com', csrf_token: csrf }, jar, { origin, ...hx });
        const reset = await post('/reset-password', { csrf_token: csrf, new_password: 'hijacked passphrase', confirm_password: 'hijacked passphrase' }, jar, { origin, ...hx });
        for (const res of [forgot, reset]) {
          expect(res.statusCode, `${origin}`).toBe(403);
          expect(res.body).toContain('Origin not allowed');
        }
        expect(reset.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
      }
    }
    // Without the pre-session token (another browser's form, or none), nothing happens either.
    const other = formToken((await get('/forgot-password', new CookieJar())).body);
    for (const csrfToken of [other, '']) {
      const refused = await post('/reset-password', { csrf_token: csrfToken, new_password: 'hijacked passphrase', confirm_password: 'hijacked passphrase' }, jar);
      expect(refused.statusCode).toBe(403);
      expect(refused.body).toContain('This form expired or came from another site');
      expect((await post('/forgot-password', { email: 'erin@example.com', csrf_token: csrfToken }, jar)).statusCode).toBe(403);
    }
    await t.app.gatehouse.passwordReset.settled();
    expect(smtp.messages.length).toBe(mailsBefore);
    expect((await login(t.app, 'erin')).statusCode).toBe(200);
    const ok = await post('/reset-password', { csrf_token: csrf, new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD }, jar);
    expect(ok.statusCode).toBe(303);
  });

  it('no token reached any response body, any header, or any log line', async () => {
    const tokens = smtp.messages.map((m) => resetLinkToken(m.text, PUBLIC_URL)!);
    expect(tokens.length).toBeGreaterThan(5);
    expect(seen.length).toBeGreaterThan(50);
    for (const res of seen) {
      for (const token of tokens) {
        expect(JSON.stringify(res.headers)).not.toContain(token);
        expect(res.body).not.toContain(token);
      }
    }
    const logs = JSON.stringify(t.logs);
    expect(t.logs.some((line) => String((line.req as { url?: string } | undefined)?.url ?? '').startsWith('/reset-password?token=[REDACTED]'))).toBe(true);
    for (const token of tokens) expect(logs).not.toContain(token);
  });
});

/** Requests as a TLS-terminating proxy on loopback forwards them (TRUST_PROXY=loopback). */
const VIA_HTTPS_PROXY = { 'x-forwarded-proto': 'https', host: 'gate.example.com' };

/** A production app behind that proxy, and the text of the reset mail a new account `username` asked for. */
async function productionResetMail(env: Record<string, string>, username: string): Promise<{ prod: TestApp; text: string }> {
  const prod = await authApp({ clock, env: { ENVIRONMENT: 'production', TRUST_PROXY: 'loopback', ALLOWED_ORIGINS: 'https://app.example.com', SMTP_URL: smtp.url, ...env } });
  const email = `${username}@example.com`;
  const signUp = await prod.app.inject({ method: 'POST', url: '/api/v1/auth/register', headers: VIA_HTTPS_PROXY, payload: { username, email, password: PASSWORD } });
  expect(signUp.statusCode).toBe(201);
  const count = smtp.messages.length;
  const asked = await prod.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', headers: VIA_HTTPS_PROXY, payload: { email } });
  expect(asked.statusCode).toBe(202);
  return { prod, text: (await smtp.waitFor(count + 1))[count]!.text };
}

describe('in production', () => {
  it('the link cookie is __Host-reset_link, Secure, HttpOnly, Lax and Path=/, and only the prefixed name is read', async () => {
    const origin = 'https://gate.example.com';
    const { prod, text } = await productionResetMail({ PUBLIC_URL: origin }, 'paula');
    try {
      const https = VIA_HTTPS_PROXY;
      const token = resetLinkToken(text, origin)!;
      const link = record(await getPage(prod.app, `/reset-password?token=${encodeURIComponent(token)}`, new CookieJar(), https));
      expect(link.statusCode).toBe(303);
      const [cookie] = setCookies(link);
      expect(cookie!.raw).toMatch(/^__Host-reset_link=v1\.[^;]+; Max-Age=1800; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
      const page = await getPage(prod.app, '/reset-password', new CookieJar({ '__Host-reset_link': cookie!.value }), https);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('name="new_password"');
      const unprefixed = await getPage(prod.app, '/reset-password', new CookieJar({ reset_link: cookie!.value }), https);
      expect(unprefixed.statusCode).toBe(400);
    } finally {
      await prod.close();
    }
  });
});

describe('in production without PUBLIC_URL', () => {
  it('the mail links over https to where the process listens (a plain-http link would carry the token in clear)', async () => {
    const { prod, text } = await productionResetMail({ HOST: '127.0.0.1', PORT: '8443' }, 'pedro');
    try {
      expect(resetLinkToken(text, 'https://127.0.0.1:8443')).toBeDefined();
      expect(text).not.toContain('http://');
    } finally {
      await prod.close();
    }
  });
});

describe('the auth rate-limit groups', () => {
  it('the forms (sign-in, sign-up, forgot, reset) share one RATE_LIMIT_AUTH budget of their own, apart from the API\'s auth routes', async () => {
    const limited = await authApp({ env: { RATE_LIMIT_AUTH: '3/minute' } });
    try {
      const jar = new CookieJar();
      const csrf = formToken((await getPage(limited.app, '/forgot-password', jar)).body);
      const api = (email: string) => limited.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', payload: { email } });
      expect((await api('a@example.com')).statusCode).toBe(202);
      expect((await postForm(limited.app, '/forgot-password', { email: 'b@example.com', csrf_token: csrf }, jar)).statusCode).toBe(303);
      expect((await postForm(limited.app, '/login', { username: 'nobody', password: 'not the password', csrf_token: csrf }, jar)).statusCode).not.toBe(429);
      expect((await postForm(limited.app, '/forgot-password', { email: 'c@example.com', csrf_token: csrf }, jar)).statusCode).toBe(303);
      const over = await postForm(limited.app, '/forgot-password', { email: 'd@example.com', csrf_token: csrf }, jar);
      expect(over.statusCode).toBe(429);
      expect(over.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(over.headers['content-type']).toBe('text/html; charset=utf-8');
      const reset = await postForm(limited.app, '/reset-password', { csrf_token: csrf, new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD }, jar);
      expect(reset.statusCode).toBe(429);
      expect((await postForm(limited.app, '/register', { username: 'late', email: 'late@example.com', password: NEW_PASSWORD, csrf_token: csrf }, jar)).statusCode).toBe(429);
      // The contract's auth budget is the API routes' alone: the forms spent none of it.
      expect((await api('e@example.com')).statusCode).toBe(202);
      expect((await api('f@example.com')).headers['ratelimit-remaining']).toBe('0');
      expect((await api('g@example.com')).statusCode).toBe(429);
      // Viewing the pages is not counted against it.
      expect((await getPage(limited.app, '/forgot-password', jar)).statusCode).toBe(200);
      expect((await getPage(limited.app, `/reset-password?token=${'x'.repeat(43)}`, jar)).statusCode).toBe(400);
    } finally {
      await limited.close();
    }
  });
});
