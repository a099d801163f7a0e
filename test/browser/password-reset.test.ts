// Forgotten password in a real Chromium, with the mail through a real SMTP server: ask from the
// sign-in page, open the mailed link (its token leaves the address bar at once), get a mismatch
// shown on its field, set the new password, sign in with it; the used link is dead. No CSP
// violation, page error or dialog on the way, and no page of the flow sends a Referer.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../helpers/process.js';
import { resetLinkToken, startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { eventually, launchBrowser, newContext, PASSWORD, serveApp, signIn, signUp, watchedPage, type ServedApp } from './harness.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let browser: Browser;
let smtp: TestSmtp;
let s: ServedApp;
beforeAll(async () => {
  smtp = await startSmtp();
  const port = await freePort();
  [browser, s] = await Promise.all([launchBrowser(), serveApp({ env: { SMTP_URL: smtp.url, HOST: '127.0.0.1', PORT: String(port) } })]);
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
  await smtp?.close();
});

describe('forgot password → mailed link → new password → sign in', () => {
  it('works end to end; the token is never in the page or the address bar; the used link is dead', async () => {
    const context = await newContext(browser);
    const { page, watch } = await watchedPage(context);
    // htmx posts: a success is a 200 carrying HX-Redirect.
    const referrerPolicies = new Map<string, string | undefined>();
    page.on('response', (res) => {
      const path = new URL(res.url()).pathname;
      if (path === '/reset-password') referrerPolicies.set(`${res.request().method()} ${res.status()}`, res.headers()['referrer-policy']);
    });
    // What the reset page's document sends on (its form posts, its assets): never a Referer, which
    // could repeat a token from its address.
    const fromResetPage: { what: string; referer: string | undefined }[] = [];
    page.on('request', (req) => {
      if (new URL(req.frame().url()).pathname !== '/reset-password' || req.isNavigationRequest()) return;
      void req.allHeaders().then((h) => fromResetPage.push({ what: `${req.method()} ${new URL(req.url()).pathname}`, referer: h.referer }));
    });
    const newPassword = 'a freshly chosen passphrase 2026';
    await signUp(page, s.origin, { username: 'nora' });

    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.waitForURL(`${s.origin}/forgot-password`);
    await page.getByLabel('Email').fill('nora@example.com');
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await eventually(() => page.getByRole('status').first().textContent()).toContain('If an account exists for this address');

    const [mail] = await smtp.waitFor(1);
    expect(mail!.rcptTo).toEqual(['nora@example.com']);
    const token = resetLinkToken(mail!.text, s.origin);
    expect(token, mail!.text).toBeDefined();

    await page.goto(`${s.origin}/reset-password?token=${encodeURIComponent(token!)}`);
    // The redirect took the token out of the URL (and so out of history); the page does not hold it.
    expect(page.url()).toBe(`${s.origin}/reset-password`);
    expect(await page.content()).not.toContain(token);
    expect(await page.evaluate('document.cookie')).not.toContain('reset_link');

    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('Repeat the new password').fill(`${newPassword}?`);
    await page.getByRole('button', { name: 'Set new password' }).click();
    const confirm = page.getByLabel('Repeat the new password');
    await eventually(() => confirm.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#reset-confirm-password-error').textContent()).toBe('The two passwords do not match.');
    await eventually(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('reset-confirm-password');

    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await confirm.fill(newPassword);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.waitForURL(`${s.origin}/login?reset=1`);
    await eventually(() => page.getByRole('status').first().textContent()).toContain('Your password was changed');

    await page.getByLabel('Username or email').fill('nora');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await eventually(() => page.getByRole('alert').textContent()).toBe('Incorrect username or password');
    await signIn(page, s.origin, 'nora', newPassword);

    await page.goto(`${s.origin}/reset-password?token=${encodeURIComponent(token!)}`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('This link cannot be used');
    expect(await page.content()).not.toContain(token);

    expect([...referrerPolicies.keys()].sort()).toEqual(['GET 200', 'GET 303', 'GET 400', 'POST 200', 'POST 422']);
    for (const policy of referrerPolicies.values()) expect(policy).toBe('strict-origin-when-cross-origin');
    expect(fromResetPage.map((r) => r.what)).toContain('POST /reset-password');
    expect(fromResetPage.filter((r) => r.referer), JSON.stringify(fromResetPage)).toEqual([]);
    await watch.expectClean();
    await context.close();
  });
});
