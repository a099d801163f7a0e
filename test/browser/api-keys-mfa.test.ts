// The API keys and two-factor pages in a real Chromium: a key created on the page is shown once and
// works against the API until it is revoked there; two-factor sign-in set up from the QR page's key
// then guards sign-in, and a recovery code turns it off again. No CSP violation on the way.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { totpCode } from '../helpers/mfa.js';
import { launchBrowser, newContext, PASSWORD, serveApp, signIn, watchedPage, type ServedApp, eventually, settled } from './harness.js';

// A real browser on a loaded two-core machine: steps wait on password hashing and page swaps.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let browser: Browser;
let s: ServedApp;
// TOTP codes follow the server's clock: each step's code is accepted once, so the test moves time on.
const clock = new FakeClock(Date.now());
beforeAll(async () => {
  [browser, s] = await Promise.all([launchBrowser(), serveApp({ clock })]);
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

describe('API keys page', () => {
  it('creates a key shown once, which works on the API until revoked on the page', async () => {
    await s.app.gatehouse.users.register({ username: 'kai', email: 'kai@example.com', password: PASSWORD });
    const context = await newContext(browser);
    const { page, watch } = await watchedPage(context);
    await signIn(page, s.origin, 'kai', PASSWORD, '/account/api-keys');
    // A user is offered only the scopes their role holds.
    expect(await page.getByRole('checkbox').count()).toBe(2);

    await page.getByLabel('Name', { exact: true }).fill('deploys');
    await page.getByRole('checkbox', { name: /profile:read/ }).uncheck();
    await page.getByRole('button', { name: 'Create key' }).click();
    await eventually(() => page.locator('#api-key-scopes-error').textContent()).toBe('Choose at least one scope.');
    await settled(page);

    await page.getByRole('checkbox', { name: /profile:write/ }).check();
    await page.getByRole('checkbox', { name: /profile:read/ }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByLabel('Your new key');
    await eventually(() => shown.count()).toBe(1);
    const key = await shown.inputValue();
    expect((await s.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-api-key': key } })).statusCode).toBe(200);
    // The list (swapped out of band) shows the prefix only; a reload never shows the key again.
    await eventually(() => page.locator('#api-keys tbody tr').count()).toBe(1);
    await page.reload();
    expect(await page.content()).not.toContain(key);

    await page.getByRole('button', { name: 'Revoke deploys' }).click();
    await eventually(() => page.locator('#api-keys [role=status]').textContent()).toBe('The key was revoked.');
    expect((await s.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-api-key': key } })).statusCode).toBe(401);
    await watch.expectClean();
    await context.close();
  });
});

describe('two-factor page', () => {
  it('turns TOTP on from the page, then sign-in asks for a code; a recovery code turns it off', async () => {
    await s.app.gatehouse.users.register({ username: 'tess', email: 'tess@example.com', password: PASSWORD });
    const context = await newContext(browser);
    const { page, watch } = await watchedPage(context);
    await signIn(page, s.origin, 'tess', PASSWORD, '/account/mfa');
    expect(await page.getByRole('heading', { level: 2 }).textContent()).toBe('Two-factor sign-in is off');
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    await eventually(() => page.locator('.qr svg').count()).toBe(1);
    const secret = (await page.locator('code.secret').textContent())!.replace(/\s/g, '');

    await page.getByLabel('Code from your app').fill('000000');
    await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    await eventually(() => page.locator('#mfa-enable-code-error').textContent()).toContain('Invalid two-factor code');
    await settled(page);
    expect(await page.locator('.qr svg').count()).toBe(1);
    await page.getByLabel('Code from your app').fill(totpCode(secret, clock.now()));
    await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    await eventually(() => page.locator('.codes li').count()).toBe(10);
    const recovery = (await page.locator('.codes li').first().textContent())!;
    expect((await s.app.gatehouse.storage.users.findByLogin('tess'))!.mfaEnabled).toBe(true);

    // Sign-in now needs the code after the password.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(`${s.origin}/login?signed_out=1`);
    await page.getByLabel('Username or email').fill('tess');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await eventually(() => page.getByRole('alert').textContent()).toBe('A valid two-factor code is required. Enter your password again, and the code from your authenticator app.');
    await settled(page);
    // Only the code typed (the password box is empty again): told what is missing, not counted as a failure.
    await page.getByLabel('Two-factor code').fill(totpCode(secret, clock.now()));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await eventually(() => page.locator('#login-form [role=alert]').textContent()).toBe('A valid two-factor code is required. Enter your password again, and the code from your authenticator app.');
    await settled(page);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Two-factor code').fill(recovery);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${s.origin}/account`);

    await page.getByRole('link', { name: 'Two-factor' }).click();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Code or recovery code').fill(recovery);
    await page.getByRole('button', { name: 'Turn off two-factor sign-in' }).click();
    // The recovery code was used at sign-in: it is spent, and the refusal names neither field.
    await eventually(() => page.locator('#mfa [role=alert]').textContent()).toBe('Incorrect password or two-factor code');
    // The code that turned MFA on was spent on that step; the next step's code is fresh.
    clock.advance(30_000);
    const second = totpCode(secret, clock.now());
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Code or recovery code').fill(second);
    await page.getByRole('button', { name: 'Turn off two-factor sign-in' }).click();
    await eventually(() => page.getByRole('heading', { level: 2 }).textContent()).toBe('Two-factor sign-in is off');
    expect((await s.app.gatehouse.storage.users.findByLogin('tess'))!.mfaEnabled).toBe(false);
    await watch.expectClean();
    await context.close();
  });
});
