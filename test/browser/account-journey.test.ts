// A person's whole journey through the pages in a real Chromium: sign up (with the API's own
// validation shown inline), sign in, edit the profile, change the password, sign out — with no CSP
// violation, no page error and no dialog on the way; and an open page kept signed in by its script.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { newContext, PASSWORD, launchBrowser, serveApp, signIn, signUp, watchedPage, type ServedApp, eventually, settled } from './harness.js';

// A real browser on a loaded two-core machine: steps wait on password hashing and page swaps.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

describe('sign up → sign in → edit profile → change password → sign out', () => {
  let s: ServedApp;
  beforeAll(async () => {
    s = await serveApp();
  });
  afterAll(() => s.close());

  it('a form swapped in place whose fields something outside the page styled shows its errors with no CSP violation: htmx never copies a style attribute', async () => {
    const context = await newContext(browser);
    const { page, watch } = await watchedPage(context);
    await page.goto(`${s.origin}/register`);
    // Autofill and extensions restyle fields through the CSSOM, which leaves a style attribute
    // behind; htmx's default settle would set it again with setAttribute, which the page CSP refuses.
    await page.evaluate(`for (const id of ['register-email', 'register-username']) {
      const field = document.getElementById(id);
      field.style.setProperty('color', 'black');
      field.style.removeProperty('color');
    }`);
    expect(await page.getByLabel('Email').getAttribute('style')).toBe('');
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByLabel('Username').fill('styled');
    await page.getByLabel('Password').fill('password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await eventually(() => page.getByLabel('Email').getAttribute('aria-invalid')).toBe('true');
    await settled(page);
    await watch.expectClean();
    await context.close();
  });
  it('works end to end, and every page stays inside its CSP', async () => {
    const context = await newContext(browser);
    const { page, watch } = await watchedPage(context);
    const newPassword = 'a much longer passphrase 2026';

    // Sign-up refuses what the API refuses, next to the field concerned (htmx swaps the form in place).
    await page.goto(`${s.origin}/register`);
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByLabel('Username').fill('erin');
    await page.getByLabel('Password').fill('password');
    await page.getByRole('button', { name: 'Create account' }).click();
    const email = page.getByLabel('Email');
    await eventually(() => email.getAttribute('aria-invalid')).toBe('true');
    await eventually(() => page.locator('#register-email-error').textContent()).toBe('Enter a valid email address.');
    expect(await email.getAttribute('aria-describedby')).toBe('register-email-error');
    const password = page.getByLabel('Password');
    expect(await password.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#register-password-error').textContent()).toBe('Password is too common');
    expect(await page.getByLabel('Username').getAttribute('aria-invalid')).toBeNull();
    // What was typed stays (but never the password), and focus moved to the first field in error.
    expect(await page.getByLabel('Username').inputValue()).toBe('erin');
    expect(await password.inputValue()).toBe('');
    await eventually(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('register-email');
    expect(await s.app.gatehouse.storage.users.findByLogin('erin')).toBeUndefined();

    await signUp(page, s.origin, { username: 'erin' });
    await eventually(() => page.getByRole('status').first().textContent()).toContain('Your account was created');

    // A wrong password names no field.
    await page.getByLabel('Username or email').fill('erin');
    await page.getByLabel('Password').fill('wrong password entirely');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await eventually(() => page.getByRole('alert').textContent()).toBe('Incorrect username or password');
    expect(await page.getByLabel('Password').getAttribute('aria-invalid')).toBeNull();
    expect(await page.getByLabel('Username or email').getAttribute('aria-invalid')).toBeNull();

    await signIn(page, s.origin, 'erin');
    expect(await page.locator('#nav-user').textContent()).toBe('Signed in as erin');

    // Profile: a new name and, with the current password, a new email.
    await page.getByLabel('Full name').fill('Erin Example');
    await page.getByLabel('Email').fill('erin.new@example.com');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await eventually(() => page.locator('#profile-current-password-error').textContent()).toBe('Enter your current password to change your email.');
    await settled(page);
    expect((await s.app.gatehouse.storage.users.findByLogin('erin'))!.email).toBe('erin@example.com');
    await page.getByLabel('Email').fill('erin.new@example.com');
    await page.getByLabel('Current password', { exact: true }).first().fill(PASSWORD);
    await page.getByRole('button', { name: 'Save profile' }).click();
    await eventually(() => page.locator('#profile-form [role=status]').textContent()).toBe('Profile saved.');
    // The header followed the edit (an out-of-band swap), without a reload.
    expect(await page.locator('#nav-user').textContent()).toBe('Signed in as Erin Example');
    const stored = (await s.app.gatehouse.storage.users.findByLogin('erin'))!;
    expect({ fullName: stored.fullName, email: stored.email }).toEqual({ fullName: 'Erin Example', email: 'erin.new@example.com' });

    // Password: the service's policy speaks through the form; then the change goes through.
    const form = page.locator('#password-form');
    await form.getByLabel('Current password').fill(PASSWORD);
    await form.getByLabel('New password').fill('short');
    await form.getByRole('button', { name: 'Change password' }).click();
    await eventually(() => page.locator('#password-new-password-error').textContent()).toBe('Password must be at least 8 characters');
    await settled(page);
    await form.getByLabel('Current password').fill(PASSWORD);
    await form.getByLabel('New password').fill(newPassword);
    await form.getByRole('button', { name: 'Change password' }).click();
    await eventually(() => page.locator('#password-form [role=status]').textContent()).toContain('Password changed');

    // Sign out is a plain form post; afterwards the account page sends us to sign in.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(`${s.origin}/login?signed_out=1`);
    await page.goto(`${s.origin}/account`);
    await page.waitForURL(`${s.origin}/login?next=%2Faccount`);

    // Only the new password works now.
    await page.getByLabel('Username or email').fill('erin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await eventually(() => page.getByRole('alert').textContent()).toBe('Incorrect username or password');
    await signIn(page, s.origin, 'erin.new@example.com', newPassword);
    await watch.expectClean();
    await context.close();
  });

  it('works without JavaScript: plain form posts sign in, save and sign out', async () => {
    await s.app.gatehouse.users.register({ username: 'nojs', email: 'nojs@example.com', password: PASSWORD });
    const context = await newContext(browser, { javaScriptEnabled: false });
    const { page } = await watchedPage(context);
    await page.goto(`${s.origin}/account`);
    await page.waitForURL(`${s.origin}/login?next=%2Faccount`);
    await page.getByLabel('Username or email').fill('nojs');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${s.origin}/account`);
    await page.getByLabel('Full name').fill('No Script');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.waitForURL(`${s.origin}/account?notice=profile`);
    expect(await page.getByRole('status').first().textContent()).toBe('Profile saved.');
    expect((await s.app.gatehouse.storage.users.findByLogin('nojs'))!.fullName).toBe('No Script');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(`${s.origin}/login?signed_out=1`);
    expect(await s.app.gatehouse.sessions.list((await s.app.gatehouse.storage.users.findByLogin('nojs'))!.id)).toEqual([]);
    await context.close();
  });
});

describe('an open page keeps its session alive', () => {
  it('refreshes through /api/v1/auth/refresh before the access cookie expires, so later actions still work', async () => {
    const clock = new FakeClock(Date.now());
    const s = await serveApp({ clock });
    try {
      await s.app.gatehouse.users.register({ username: 'kim', email: 'kim@example.com', password: PASSWORD });
      const context = await newContext(browser);
      const { page, watch } = await watchedPage(context);
      await page.clock.install();
      await signIn(page, s.origin, 'kim');
      const lifetime = s.config.accessTokenExpireMinutes * 60;
      expect(await page.locator('meta[name="session-expires-in"]').getAttribute('content')).toBe(String(lifetime));

      // 50 s before expiry (server time), the page's timer is due: it refreshes with X-CSRF-Token.
      clock.advance((lifetime - 50) * 1000);
      const refreshed = page.waitForResponse((r) => r.url() === `${s.origin}/api/v1/auth/refresh`, { timeout: 15_000 });
      await page.clock.fastForward((lifetime - 50) * 1000);
      const response = await refreshed;
      expect(response.status()).toBe(200);
      expect(response.request().headers()['x-csrf-token']).toBe(await page.locator('meta[name="csrf-token"]').getAttribute('content'));

      // Past the first token's expiry: an action still works, because the cookie now holds the new one.
      clock.advance(100_000);
      await page.getByLabel('Full name').fill('Kim Kept');
      await page.getByRole('button', { name: 'Save profile' }).click();
      await eventually(() => page.locator('#profile-form [role=status]').textContent()).toBe('Profile saved.');
      expect(page.url()).toBe(`${s.origin}/account`);
      expect((await s.app.gatehouse.storage.users.findByLogin('kim'))!.fullName).toBe('Kim Kept');

      // The tab slept through the keep-alive and its access cookie is gone: the save is answered 401,
      // the page renews the session and sends it again — what was typed is saved, not lost to a reload.
      await context.clearCookies({ name: 'access_token' });
      const navigations: string[] = [];
      page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations.push(frame.url()); });
      await page.getByLabel('Full name').fill('Kim After Sleep');
      const statuses: number[] = [];
      page.on('response', (r) => { if (r.url() === `${s.origin}/account/profile`) statuses.push(r.status()); });
      const savedAgain = page.waitForResponse((r) => r.url() === `${s.origin}/account/profile` && r.status() === 200);
      await page.getByRole('button', { name: 'Save profile' }).click();
      await savedAgain;
      expect(statuses).toEqual([401, 200]);
      await eventually(() => page.locator('#profile-form [role=status]').textContent()).toBe('Profile saved.');
      expect(navigations).toEqual([]);
      expect(page.url()).toBe(`${s.origin}/account`);
      expect((await s.app.gatehouse.storage.users.findByLogin('kim'))!.fullName).toBe('Kim After Sleep');
      await watch.expectClean();
      await context.close();
    } finally {
      await s.close();
    }
  });
});
