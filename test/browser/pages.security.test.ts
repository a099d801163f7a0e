// The pages under attack, in a real Chromium: a cross-site form post from a page of another origin
// is refused and changes nothing (profile, sign-in, sign-out); markup typed into a name or sent as
// a user agent shows as text everywhere and never runs; and no page breaks its own CSP.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { launchBrowser, newContext, PASSWORD, serveApp, serveHtml, signIn, watchedPage, type ServedApp, eventually } from './harness.js';

// A real browser on a loaded two-core machine: steps wait on password hashing and page swaps.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const XSS_NAME = '<img src=x onerror=alert(1)>';
const XSS_AGENT = 'Mozilla/5.0 <script>alert(2)</script><svg onload=alert(3)>';

let browser: Browser;
let s: ServedApp;
beforeAll(async () => {
  [browser, s] = await Promise.all([launchBrowser(), serveApp()]);
  await s.app.gatehouse.users.register({ username: 'boss', email: 'boss@example.com', password: PASSWORD }, 'admin');
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const user = (name: string) => s.app.gatehouse.storage.users.findByLogin(name);

describe('the watcher itself', () => {
  it('sees a CSP violation, a page error and a dialog when there is one (so a clean result means something)', async () => {
    const evil = await serveHtml(() => '<p>x</p><script>alert(1)</script><p id="after">after</p>', { 'content-security-policy': "script-src 'none'" });
    const loud = await serveHtml(() => '<script>alert("hi"); throw new Error("boom")</script>');
    try {
      const context = await newContext(browser);
      const { page, watch } = await watchedPage(context);
      await page.goto(evil.origin);
      await page.goto(loud.origin);
      await eventually(() => watch.violations.length).toBeGreaterThan(0);
      await eventually(() => watch.dialogs).toEqual(['alert: hi']);
      await eventually(() => watch.pageErrors).toEqual(['boom']);
      await expect(watch.expectClean()).rejects.toThrow();
      await context.close();
    } finally {
      await Promise.all([evil.close(), loud.close()]);
    }
  });
});

describe('a cross-site form post from a page on another origin', () => {
  it('is refused with 403 and changes nothing: profile edit, sign-in (login CSRF) and sign-out', async () => {
    await s.app.gatehouse.users.register({ username: 'victim', email: 'victim@example.com', password: PASSWORD });
    await s.app.gatehouse.users.register({ username: 'mallory', email: 'mallory@example.com', password: PASSWORD });
    const attacker = await serveHtml((url) => {
      const target = url.searchParams.get('target') ?? '';
      const fields = url.searchParams.getAll('f').map((pair) => {
        const [name, value] = pair.split('=');
        return `<input type="hidden" name="${name}" value="${value}">`;
      }).join('');
      return `<!doctype html><title>You won!</title><form method="post" action="${s.origin}${target}">${fields}</form><script>document.forms[0].submit()</script>`;
    });
    try {
      const context = await newContext(browser);
      const { page } = await watchedPage(context);
      await signIn(page, s.origin, 'victim');
      const before = await user('victim');
      const sessionsBefore = await s.app.gatehouse.sessions.list(before!.id);

      const attack = async (target: string, fields: string[]) => {
        const query = new URLSearchParams([['target', target], ...fields.map((f): [string, string] => ['f', f])]);
        const answered = page.waitForResponse((r) => r.url() === `${s.origin}${target}` && r.request().method() === 'POST');
        await page.goto(`${attacker.origin}/?${query.toString()}`);
        const response = await answered;
        await page.waitForLoadState();
        return { status: response.status(), text: await page.locator('main').textContent() };
      };

      // The browser sends the victim's cookies (127.0.0.1 on another port is the same site), but not its Origin's trust.
      const edit = await attack('/account/profile', ['full_name=pwned', 'email=mallory@evil.test']);
      expect(edit.status).toBe(403);
      expect(edit.text).toContain('Origin not allowed');
      const signInAsMallory = await attack('/login', ['username=mallory', `password=${PASSWORD}`]);
      expect(signInAsMallory.status).toBe(403);
      const signOut = await attack('/logout', []);
      expect(signOut.status).toBe(403);

      const after = await user('victim');
      expect({ fullName: after!.fullName, email: after!.email }).toEqual({ fullName: before!.fullName, email: before!.email });
      expect(await s.app.gatehouse.sessions.list((await user('mallory'))!.id)).toEqual([]);
      expect((await s.app.gatehouse.sessions.list(before!.id)).map((x) => x.id)).toEqual(sessionsBefore.map((x) => x.id));
      // Still signed in as the victim, not as mallory.
      await page.goto(`${s.origin}/account`);
      expect(await page.locator('#nav-user').textContent()).toBe('Signed in as victim');
      await context.close();
    } finally {
      await attacker.close();
    }
  });
});

describe('markup from users is text on every page', () => {
  it('a name like <img src=x onerror=…> and a hostile user agent show as typed, and nothing runs', async () => {
    const context = await newContext(browser, { userAgent: XSS_AGENT });
    const { page, watch } = await watchedPage(context);
    await s.app.gatehouse.users.register({ username: 'xena', email: 'xena@example.com', password: PASSWORD });
    await signIn(page, s.origin, 'xena');
    await page.getByLabel('Full name').fill(XSS_NAME);
    await page.getByRole('button', { name: 'Save profile' }).click();
    await eventually(() => page.locator('#nav-user strong').textContent()).toBe(XSS_NAME);
    expect((await user('xena'))!.fullName).toBe(XSS_NAME);
    await page.reload();
    expect(await page.locator('#nav-user strong').textContent()).toBe(XSS_NAME);
    expect(await page.getByLabel('Full name').inputValue()).toBe(XSS_NAME);
    expect(await page.locator('#sessions tbody').textContent()).toContain(XSS_AGENT);
    expect(await page.locator('img, svg').count()).toBe(0);

    // The admin sees the same text in the users table and the hostile agent in the audit log.
    const adminContext = await newContext(browser);
    const admin = await watchedPage(adminContext);
    await signIn(admin.page, s.origin, 'boss', PASSWORD, '/admin');
    expect(await admin.page.getByRole('cell', { name: XSS_NAME, exact: true }).isVisible()).toBe(true);
    await admin.page.goto(`${s.origin}/admin/audit?action=login.success&user_id=${(await user('xena'))!.id}`);
    expect(await admin.page.getByRole('cell', { name: XSS_AGENT, exact: true }).isVisible()).toBe(true);
    expect(await admin.page.locator('main img, main svg').count()).toBe(0);
    await watch.expectClean();
    await admin.watch.expectClean();
    await Promise.all([context.close(), adminContext.close()]);
  });
});

describe('no page breaks its CSP', () => {
  it('every page and every swap: sign-in, sign-up, account, users (search, paging), audit (filters), error pages', async () => {
    // Enough accounts for a second page of users (stored directly: one hash serves them all).
    const passwordHash = await s.app.gatehouse.hasher.hash(PASSWORD);
    for (let i = 0; i < 25; i++) {
      await s.app.gatehouse.storage.users.create({ username: `filler${i}`, email: `filler${i}@example.com`, fullName: null, passwordHash, role: 'user' }, Date.now());
    }
    const context = await newContext(browser);
    const { page, watch } = await watchedPage(context);
    const response = await page.goto(`${s.origin}/register`);
    expect(response!.headers()['content-security-policy']).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]{22,}' 'strict-dynamic'/);
    await page.getByRole('button', { name: 'Create account' }).click();
    await eventually(() => page.locator('[aria-invalid="true"]').count()).toBe(3);
    await page.goto(`${s.origin}/login`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await eventually(() => page.getByRole('alert').count()).toBe(1);
    // A signed-in non-admin gets the HTML error page: the catalogue's words and the request id.
    await s.app.gatehouse.users.register({ username: 'plain', email: 'plain@example.com', password: PASSWORD });
    await signIn(page, s.origin, 'plain');
    const forbidden = await page.goto(`${s.origin}/admin`);
    expect(forbidden!.status()).toBe(403);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Not allowed');
    expect(await page.getByRole('alert').textContent()).toBe('Insufficient permissions');
    expect(await page.locator('.request-id').textContent()).toBe(`Request ID: ${forbidden!.headers()['x-request-id']}`);
    await page.goto(`${s.origin}/account`);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(`${s.origin}/login?signed_out=1`);
    await signIn(page, s.origin, 'boss', PASSWORD, '/admin');
    const { total } = await s.app.gatehouse.users.list({ limit: 1, offset: 0 });
    await page.getByRole('link', { name: 'Next' }).click();
    await page.waitForURL(`${s.origin}/admin?offset=20`);
    await eventually(() => page.locator('#users tbody tr').count()).toBe(total - 20);
    await page.getByRole('link', { name: 'Previous' }).click();
    await page.waitForURL(`${s.origin}/admin`);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('User ID').fill('abc');
    await page.getByRole('button', { name: 'Filter' }).click();
    await eventually(() => page.locator('#audit [role=alert]').textContent()).toContain('User ID must be a number');
    await page.getByRole('link', { name: 'Account' }).click();
    await page.waitForURL(`${s.origin}/account`);
    // The last-admin rule refuses through the flash region (htmx) without leaving the page.
    await page.goto(`${s.origin}/admin?q=boss`);
    await page.getByRole('button', { name: 'Make user boss' }).click();
    await eventually(() => page.locator('#flash [role=alert]').textContent()).toContain('The last active administrator cannot be demoted');
    expect(await page.locator('#flash [role=alert]').textContent()).toMatch(/Request ID: \S+/);
    await watch.expectClean();
    await context.close();
  });
});
