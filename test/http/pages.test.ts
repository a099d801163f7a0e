// The HTMX pages over HTTP: the page CSP on every page (a fresh nonce, no inline script, style or
// handler), htmx vendored and configured once, and HTML error pages that show the request id and
// nothing internal. The forms themselves: pages-forms.test.ts.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { authApp, register, registerAdmin } from '../helpers/auth.js';
import { CookieJar, getPage, pageLogin, postForm } from '../helpers/browser-session.js';

const require = createRequire(import.meta.url);
const HX = { 'hx-request': 'true' };

let t: TestApp;
beforeAll(async () => {
  t = await authApp({
    routes: (app) => {
      // A page whose handler fails with everything a careless error page could leak.
      app.get('/_probe/page-boom', { config: { page: true } }, async () => {
        throw new Error('SQLITE_ERROR: near "SELECT password_hash FROM users": syntax error at /work/main/src/storage/kysely.ts:42');
      });
    },
  });
  await register(t.app, { username: 'alice', full_name: 'Alice Doe' });
  await registerAdmin(t.app, 'admin');
});
afterAll(() => t?.close());

function nonceOf(res: LightMyRequestResponse): string {
  const csp = String(res.headers['content-security-policy']);
  const match = /script-src 'nonce-([^']+)'/.exec(csp);
  expect(match, csp).not.toBeNull();
  return match![1]!;
}

/** The page CSP clauses, and markup that needs nothing the CSP forbids. */
function expectStrictPage(res: LightMyRequestResponse): void {
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  const csp = String(res.headers['content-security-policy']);
  for (const clause of ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) expect(csp).toContain(clause);
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
  const nonce = nonceOf(res);
  expect(Buffer.from(nonce, 'base64').length).toBeGreaterThanOrEqual(16);
  const scripts = res.body.match(/<script\b[^>]*>/g) ?? [];
  expect(scripts.length).toBeGreaterThan(0);
  for (const tag of scripts) {
    expect(tag).toContain(`nonce="${nonce}"`);
    expect(tag).toMatch(/ src="\/assets\/[a-z.]+\.js\?v=[^"]+"/);
  }
  // No inline script bodies, style attributes or inline event handlers anywhere.
  expect(res.body).not.toMatch(/<script\b[^>]*>[^<]+<\/script>/);
  expect(res.body).not.toMatch(/\sstyle=/i);
  expect(res.body).not.toMatch(/\son[a-z]+=/i);
  expect(res.body).not.toMatch(/<style\b/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['x-frame-options']).toBe('DENY');
}

describe('every page keeps the strict CSP', () => {
  it('sign-in, sign-up, account, API keys, two-factor, users, audit and an error page: nonce\'d external scripts only, new nonce every response', async () => {
    const anon = new CookieJar();
    const user = await pageLogin(t.app, 'alice');
    const admin = await pageLogin(t.app, 'admin');
    const pages = [
      await getPage(t.app, '/login', anon), await getPage(t.app, '/register', anon),
      await getPage(t.app, '/account', user.jar), await getPage(t.app, '/account/api-keys', user.jar), await getPage(t.app, '/account/mfa', user.jar),
      await getPage(t.app, '/admin', user.jar),
      await getPage(t.app, '/admin', admin.jar), await getPage(t.app, '/admin/audit', admin.jar),
    ];
    expect(pages.map((p) => p.statusCode)).toEqual([200, 200, 200, 200, 200, 403, 200, 200]);
    for (const page of pages) expectStrictPage(page);
    expect(new Set(pages.map(nonceOf)).size).toBe(pages.length);
  });

  it('pages vary on HX-Request (fragment or page) and keep CORS\'s Vary: Origin', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/login', headers: { origin: 'http://localhost:3000' } });
    expect(String(res.headers.vary).split(/,\s*/)).toEqual(expect.arrayContaining(['Origin', 'HX-Request']));
  });

  it('htmx is configured once, in a meta tag: no eval, no script tags, no indicator styles, no history cache', async () => {
    const res = await getPage(t.app, '/login', new CookieJar());
    const meta = /<meta name="htmx-config" content="([^"]+)">/.exec(res.body)![1]!.replace(/&quot;/g, '"');
    expect(JSON.parse(meta)).toMatchObject({ allowEval: false, allowScriptTags: false, includeIndicatorStyles: false, selfRequestsOnly: true, historyCacheSize: 0 });
  });
});

describe('assets', () => {
  it('htmx is served from the installed htmx.org package, not a CDN', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/assets/htmx.min.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.rawPayload.equals(readFileSync(require.resolve('htmx.org/dist/htmx.min.js')))).toBe(true);
    expect(res.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
    const again = await t.app.inject({ method: 'GET', url: '/assets/htmx.min.js', headers: { 'if-none-match': String(res.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it('every page links its icon, served as SVG, so browsers never ask for a missing /favicon.ico', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/login' });
    const href = /<link rel="icon" type="image\/svg\+xml" href="([^"]+)">/.exec(page.body)?.[1];
    expect(href).toMatch(/^\/assets\/icon\.svg\?v=/);
    const icon = await t.app.inject({ method: 'GET', url: href! });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    expect(icon.body).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>.*<\/svg>$/);
    expect(icon.body).not.toMatch(/<script|on\w+=/i);
  });

  it('our script sets X-CSRF-Token on htmx requests and refreshes the session; nothing eval-like', async () => {
    const js = (await t.app.inject({ method: 'GET', url: '/assets/app.js' })).body;
    expect(js).toContain("event.detail.headers['X-CSRF-Token']");
    expect(js).toContain("'/api/v1/auth/refresh'");
    expect(js).not.toMatch(/\beval\(|new Function|innerHTML|setTimeout\(['"]/);
    const css = await t.app.inject({ method: 'GET', url: '/assets/app.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await t.app.inject({ method: 'GET', url: '/assets/' })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/assets/../package.json' })).statusCode).toBe(404);
  });
});

describe('HTML error pages', () => {
  it('a fault on a page is a 500 page with the request id and nothing internal', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/_probe/page-boom', headers: { 'x-request-id': 'req-page-1' } });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('Internal Server Error');
    expect(res.body).toContain('req-page-1');
    expect(res.body).not.toMatch(/SELECT|password_hash|SQLITE|kysely|\/work\/|\.ts:|at async|Error:/);
    const hx = await t.app.inject({ method: 'GET', url: '/_probe/page-boom', headers: HX });
    expect(hx.statusCode).toBe(500);
    expect(hx.headers['hx-retarget']).toBe('#flash');
    expect(hx.body).toMatch(/^<div class="alert alert-error" role="alert"/);
  });

  it('a refused form post (CSRF) is an HTML 403 that says why, escaped', async () => {
    const { jar } = await pageLogin(t.app, 'alice');
    const res = await postForm(t.app, '/account/profile', { full_name: 'x', csrf_token: 'forged' }, jar);
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('CSRF token missing or invalid');
    expectStrictPage(res);
  });

  it('a mistyped page address opened in a browser is an HTML 404; API paths and non-browser clients keep the JSON one', async () => {
    const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
    const page = await t.app.inject({ method: 'GET', url: '/acount?tab=<script>', headers: browser });
    expect(page.statusCode).toBe(404);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<h1 id="error-heading">Not found</h1>');
    expect(page.body).not.toContain('<script>');
    expectStrictPage(page);
    const hx = await t.app.inject({ method: 'GET', url: '/acount', headers: HX });
    expect(hx.statusCode).toBe(404);
    expect(hx.headers['hx-retarget']).toBe('#flash');
    for (const [url, headers] of [['/acount', { accept: '*/*' }], ['/acount', {}], ['/api/v1/nope', browser], ['/api', browser], ['/api?x=1', browser]] as const) {
      const res = await t.app.inject({ method: 'GET', url, headers });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toBe('application/json; charset=utf-8');
      expect(res.json(), url).toEqual({ detail: 'Not Found' });
    }
  });
});
