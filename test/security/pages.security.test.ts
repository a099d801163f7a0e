// Attacks on the pages over HTTP: open redirects through `next`, login CSRF (the pre-session token),
// the Origin check on every page form post (prefix tricks, null, missing), another session's token
// in a form, and markup from users or the URL that must come back escaped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { authApp, PASSWORD, register, registerAdmin } from '../helpers/auth.js';
import { CookieJar, formToken, getPage, pageLogin, postForm } from '../helpers/browser-session.js';
import { databaseTargets } from '../helpers/databases.js';

let t: TestApp;
beforeAll(async () => {
  t = await authApp();
  await register(t.app, { username: 'alice', full_name: 'Alice' });
  await register(t.app, { username: 'mallory' });
  await registerAdmin(t.app, 'root');
});
afterAll(() => t?.close());

const OPEN_REDIRECTS = [
  '//evil.com', 'https://evil.com', 'http://evil.com/account', '/\\evil.com', '\\\\evil.com', '/\t/evil.com', '/\n/evil.com',
  '///evil.com', '/.//evil.com', '/..//evil.com', 'http:/evil.com', 'javascript:alert(1)', ' //evil.com', 'evil.com', '',
];

describe('next= never leaves the site', () => {
  it('after a form sign-in, every open-redirect attempt lands on /account', async () => {
    for (const next of OPEN_REDIRECTS) {
      const jar = new CookieJar();
      const page = await getPage(t.app, `/login?next=${encodeURIComponent(next)}`, jar);
      expect(page.body, next).toContain('name="next" value="/account"');
      // A forged hidden field is checked again on the post.
      const res = await postForm(t.app, '/login', { username: 'alice', password: PASSWORD, csrf_token: formToken(page.body), next }, jar);
      expect(res.statusCode, next).toBe(303);
      expect(res.headers.location, next).toBe('/account');
    }
  });

  it('a signed-in visit to /login?next=… redirects only to a local path', async () => {
    const { jar } = await pageLogin(t.app, 'alice');
    for (const next of ['//evil.com', 'https://evil.com']) {
      const res = await getPage(t.app, `/login?next=${encodeURIComponent(next)}`, jar);
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/account');
    }
    const local = await getPage(t.app, `/login?next=${encodeURIComponent('/admin/audit?action=logout#top')}`, jar);
    expect(local.headers.location).toBe('/admin/audit?action=logout#top');
  });

  it('htmx redirects (HX-Redirect) follow the same rule', async () => {
    const jar = new CookieJar();
    const page = await getPage(t.app, '/login', jar);
    const res = await postForm(t.app, '/login', { username: 'alice', password: PASSWORD, csrf_token: formToken(page.body), next: '//evil.com' }, jar, { 'hx-request': 'true' });
    expect(res.headers['hx-redirect']).toBe('/account');
  });
});

describe('login CSRF: the anonymous forms need the pre-session token', () => {
  it('no pre-session cookie, no field, or a field of another browser: 403 and no session', async () => {
    const attacker = new CookieJar();
    const attackerToken = formToken((await getPage(t.app, '/login', attacker)).body);
    const victim = new CookieJar();
    await getPage(t.app, '/login', victim);
    for (const [jar, token] of [[new CookieJar(), attackerToken], [victim, ''], [victim, attackerToken], [victim, victim.get('login_csrf')!]] as const) {
      const res = await postForm(t.app, '/login', { username: 'mallory', password: PASSWORD, csrf_token: token }, jar);
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('This form expired or came from another site');
      expect(jar.get('access_token')).toBeUndefined();
    }
    const signUp = await postForm(t.app, '/register', { email: 'x@example.com', username: 'xavier', password: PASSWORD, csrf_token: attackerToken }, victim);
    expect(signUp.statusCode).toBe(403);
    expect(await t.storage.users.findByLogin('xavier')).toBeUndefined();
    expect(await t.app.gatehouse.sessions.list((await t.storage.users.findByLogin('mallory'))!.id)).toEqual([]);
  });

  it('the pre-session cookie is HttpOnly, SameSite=Strict and Path=/; __Host- and Secure in production', async () => {
    const dev = await t.app.inject({ method: 'GET', url: '/login' });
    expect(dev.headers['set-cookie']).toMatch(/^login_csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    const prod = await authApp({ env: { ENVIRONMENT: 'production', TRUST_PROXY: 'loopback', ALLOWED_ORIGINS: 'https://app.example.com', PUBLIC_URL: 'https://gate.example.com' } });
    try {
      const res = await prod.app.inject({ method: 'GET', url: '/login', headers: { 'x-forwarded-proto': 'https', host: 'gate.example.com' } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['set-cookie']).toMatch(/^__Host-login_csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    } finally {
      await prod.close();
    }
  });
});

describe('every page form post needs an exact allowed or own Origin', () => {
  it('a prefix trick, null, a missing Origin or a foreign one: 403 before anything runs, with or without htmx', async () => {
    const { jar, csrf } = await pageLogin(t.app, 'alice');
    const anon = new CookieJar();
    const token = formToken((await getPage(t.app, '/login', anon)).body);
    const targets: [string, Record<string, string>, CookieJar][] = [
      ['/account/profile', { full_name: 'Hacked', csrf_token: csrf }, jar],
      ['/account/sessions/end-all', { csrf_token: csrf }, jar],
      ['/logout', { csrf_token: csrf }, jar],
      ['/login', { username: 'mallory', password: PASSWORD, csrf_token: token }, anon],
    ];
    for (const [url, fields, cookies] of targets) {
      for (const origin of ['http://127.0.0.1:8000.evil.net', 'http://localhost:8000.evil.net', 'null', undefined, 'https://evil.example', 'http://127.0.0.1:8001']) {
        for (const hx of [{}, { 'hx-request': 'true' }]) {
          const res = await postForm(t.app, url, fields, cookies, { origin, ...hx });
          expect(res.statusCode, `${url} ${origin}`).toBe(403);
          expect(res.body).toContain('Origin not allowed');
        }
      }
    }
    expect((await t.storage.users.findByLogin('alice'))!.fullName).toBe('Alice');
    expect((await getPage(t.app, '/account', jar)).statusCode).toBe(200);
    expect(anon.get('access_token')).toBeUndefined();
    // An allowed origin (ALLOWED_ORIGINS) and the own origin pass.
    expect((await postForm(t.app, '/account/profile', { full_name: 'Alice', csrf_token: csrf }, jar, { origin: 'http://localhost:8000' })).statusCode).toBe(303);
    expect((await postForm(t.app, '/account/profile', { full_name: 'Alice', csrf_token: csrf }, jar, { origin: 'http://gate.test', host: 'gate.test' })).statusCode).toBe(303);
  });

  it('a form post with another session\'s valid token is refused and changes nothing', async () => {
    const victim = await pageLogin(t.app, 'alice');
    const attacker = await pageLogin(t.app, 'mallory');
    const otherSession = await pageLogin(t.app, 'alice');
    for (const token of [attacker.csrf, otherSession.csrf]) {
      const res = await postForm(t.app, '/account/profile', { full_name: 'Hacked', csrf_token: token }, victim.jar);
      expect(res.statusCode).toBe(403);
      const planted = new CookieJar({ access_token: victim.jar.get('access_token')!, csrf_token: token });
      expect((await postForm(t.app, '/account/profile', { full_name: 'Hacked', csrf_token: token }, planted)).statusCode).toBe(403);
    }
    // The header htmx sends stands in for the field; a missing one for neither.
    expect((await postForm(t.app, '/account/profile', { full_name: 'Hacked' }, victim.jar)).statusCode).toBe(403);
    expect((await t.storage.users.findByLogin('alice'))!.fullName).toBe('Alice');
    const viaHeader = await postForm(t.app, '/account/profile', { full_name: 'Alice' }, victim.jar, { 'hx-request': 'true', 'x-csrf-token': victim.csrf }, 'PATCH');
    expect(viaHeader.statusCode).toBe(200);
  });
});

describe('markup from users and URLs comes back escaped', () => {
  const PAYLOAD = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&`';
  const ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;&#96;';

  it('a full name with markup is text on the account page, the header and the admin table', async () => {
    await register(t.app, { username: 'xss', full_name: PAYLOAD });
    const user = await pageLogin(t.app, 'xss');
    const admin = await pageLogin(t.app, 'root');
    const pages = [await getPage(t.app, '/account', user.jar), await getPage(t.app, '/admin?q=xss', admin.jar)];
    for (const page of pages) {
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain(ESCAPED);
      expect(page.body).not.toContain('<script>alert');
      expect(page.body).not.toContain('<img src=x');
    }
    expect(pages[0]!.body).toContain(`Signed in as <strong>${ESCAPED}</strong>`);
  });

  it('query parameters shown back (search, next, filters) are escaped or dropped', async () => {
    const admin = await pageLogin(t.app, 'root');
    const search = await getPage(t.app, `/admin?q=${encodeURIComponent(PAYLOAD)}`, admin.jar);
    expect(search.statusCode).toBe(200);
    expect(search.body).not.toContain('<script>alert');
    expect(search.body).toContain('&lt;script&gt;alert(1)');
    const audit = await getPage(t.app, `/admin/audit?user_id=${encodeURIComponent(PAYLOAD)}&action=${encodeURIComponent(PAYLOAD)}`, admin.jar);
    expect(audit.statusCode).toBe(200);
    expect(audit.body).not.toContain('<script>alert');
    const login = await t.app.inject({ method: 'GET', url: `/login?next=${encodeURIComponent(`/account"><script>alert(1)</script>`)}` });
    expect(login.body).not.toContain('<script>alert');
    expect(login.body).toMatch(/name="next" value="\/account%22%3E%3Cscript%3Ealert\(1\)%3C\/script%3E"/);
  });
});

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`text no database can store, in a page's path or query, is a 4xx on ${target.name}`, () => {
    let db: TestApp;
    beforeAll(async () => {
      db = await authApp({ storage: await target.open() });
      await registerAdmin(db.app, 'keeper');
    });
    afterAll(() => db?.close());

    it('a NUL or half a character in an id or a search answers 4xx, never a 500, and ends nothing', async () => {
      const { jar, csrf } = await pageLogin(db.app, 'keeper');
      for (const bad of ['%00', 'a%00b', '%ED%A0%80']) {
        for (const url of [`/account/sessions/${bad}/end`, `/account/api-keys/${bad}/revoke`]) {
          const res = await postForm(db.app, url, { csrf_token: csrf }, jar);
          expect(res.statusCode, `${url}: ${res.body}`).toBeGreaterThanOrEqual(400);
          expect(res.statusCode, url).toBeLessThan(500);
        }
        for (const url of [`/admin?q=${bad}`, `/admin?offset=${bad}`, `/admin/audit?action=${bad}`, `/admin/audit?user_id=${bad}`]) {
          const res = await getPage(db.app, url, jar);
          // Bytes that are not UTF-8 are read as U+FFFD, which any store keeps: a search, not a refusal.
          if (bad === '%ED%A0%80') {
            expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
            continue;
          }
          expect(res.statusCode, `${url}: ${res.body}`).toBe(422);
          expect(res.headers['content-type'], url).toMatch(/^text\/html/);
          expect(res.body, url).toContain('Part of the request is not valid');
        }
      }
      // Still signed in: nothing was ended by the refused posts.
      expect((await getPage(db.app, '/account', jar)).statusCode).toBe(200);
      expect((await getPage(db.app, '/admin?q=keep', jar)).body).toContain('keeper');
    });
  });
}
