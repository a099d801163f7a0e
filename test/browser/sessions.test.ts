// Sessions ending under an open page, in a real Chromium: one browser signs another out, and an
// admin deactivates a user; in both the other page's next action loses access and changes nothing.
// With GATEHOUSE_SCREENSHOTS=1 this file also refreshes docs/screenshot-account.png and -admin.png.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { launchBrowser, newContext, PASSWORD, serveApp, signIn, watchedPage, type ServedApp, eventually } from './harness.js';

// A real browser on a loaded two-core machine: steps wait on password hashing and page swaps.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const SCREENSHOTS = process.env.GATEHOUSE_SCREENSHOTS === '1';

let browser: Browser;
let s: ServedApp;
beforeAll(async () => {
  [browser, s] = await Promise.all([launchBrowser(), serveApp()]);
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.screenshot({ path: new URL(`../../docs/screenshot-${name}.png`, import.meta.url).pathname, fullPage: true });
}

const user = (name: string) => s.app.gatehouse.storage.users.findByLogin(name);

describe('signing one browser out from another', () => {
  it('the signed-out browser\'s next page action sends it to sign-in and changes nothing', async () => {
    await s.app.gatehouse.users.register({ username: 'frank', email: 'frank@example.com', password: PASSWORD, fullName: 'Frank Fischer' });
    const laptop = await newContext(browser, { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Laptop' });
    const phone = await newContext(browser, { userAgent: 'Mozilla/5.0 (Linux; Android 14) Phone' });
    const a = await watchedPage(laptop);
    const b = await watchedPage(phone);
    await signIn(b.page, s.origin, 'frank');
    await signIn(a.page, s.origin, 'frank');

    const rows = a.page.locator('#sessions tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.filter({ hasText: 'This device' }).textContent()).toContain('Laptop');
    await screenshot(a.page, 'account');
    await rows.filter({ hasText: 'Phone' }).getByRole('button', { name: 'Sign out that device' }).click();
    await eventually(() => rows.count()).toBe(1);
    expect(await a.page.locator('#sessions [role=status]').textContent()).toBe('That device was signed out.');

    // The phone's page is still open; its next action finds its session gone.
    await b.page.getByLabel('Full name').fill('Phone Edit');
    await b.page.getByRole('button', { name: 'Save profile' }).click();
    await b.page.waitForURL(`${s.origin}/login?next=%2Faccount`);
    expect((await user('frank'))!.fullName).toBe('Frank Fischer');
    await b.page.goto(`${s.origin}/account`);
    await b.page.waitForURL(`${s.origin}/login?next=%2Faccount`);
    // The laptop is unaffected.
    await a.page.reload();
    expect(a.page.url()).toBe(`${s.origin}/account`);

    // "Sign out everywhere" ends the laptop's own session too.
    await a.page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await a.page.waitForURL(`${s.origin}/login?signed_out=1`);
    expect(await s.app.gatehouse.sessions.list((await user('frank'))!.id)).toEqual([]);
    await a.watch.expectClean();
    await b.watch.expectClean();
    await Promise.all([laptop.close(), phone.close()]);
  });
});

describe('an admin deactivates a user', () => {
  it('the user\'s open page loses access at its next action, and sign-in is refused', async () => {
    await s.app.gatehouse.users.register({ username: 'root', email: 'root@example.com', password: PASSWORD, fullName: 'Ada Admin' }, 'admin');
    for (const [name, full] of [['grace', 'Grace Hopper'], ['heidi', 'Heidi Lamarr'], ['ivan', null]] as const) {
      await s.app.gatehouse.users.register({ username: name, email: `${name}@example.com`, password: PASSWORD, fullName: full });
    }
    const adminContext = await newContext(browser);
    const userContext = await newContext(browser);
    const admin = await watchedPage(adminContext);
    const grace = await watchedPage(userContext);
    await signIn(grace.page, s.origin, 'grace');
    await signIn(admin.page, s.origin, 'root', PASSWORD, '/admin');
    await screenshot(admin.page, 'admin');

    // Search narrows the table by htmx and puts the search in the address bar.
    await admin.page.getByLabel('Search username or email').fill('grac');
    await admin.page.waitForURL(`${s.origin}/admin?q=grac`);
    const rows = admin.page.locator('#users tbody tr');
    await eventually(() => rows.count()).toBe(1);
    await rows.getByRole('button', { name: 'Deactivate grace' }).click();
    await eventually(() => rows.locator('.badge-off').textContent()).toBe('inactive');
    expect((await user('grace'))!.isActive).toBe(false);

    await grace.page.getByLabel('Full name').fill('Still Here?');
    await grace.page.getByRole('button', { name: 'Save profile' }).click();
    await grace.page.waitForURL(`${s.origin}/login?next=%2Faccount`);
    expect((await user('grace'))!.fullName).toBe('Grace Hopper');
    await grace.page.getByLabel('Username or email').fill('grace');
    await grace.page.getByLabel('Password').fill(PASSWORD);
    await grace.page.getByRole('button', { name: 'Sign in' }).click();
    await eventually(() => grace.page.getByRole('alert').textContent()).toBe('Inactive user');

    // The audit log shows it, filtered by action.
    await admin.page.getByRole('link', { name: 'Audit log' }).click();
    await admin.page.getByLabel('Action').selectOption('user.deactivate');
    await admin.page.getByRole('button', { name: 'Filter' }).click();
    await admin.page.waitForURL(`${s.origin}/admin/audit?user_id=&action=user.deactivate`);
    const events = admin.page.locator('#audit tbody tr');
    await eventually(() => events.count()).toBe(1);
    expect(await events.textContent()).toContain(String((await user('grace'))!.id));
    await admin.watch.expectClean();
    await grace.watch.expectClean();
    await Promise.all([adminContext.close(), userContext.close()]);
  });
});
