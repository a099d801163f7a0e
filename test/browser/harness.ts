// Real-browser harness: Debian's Chromium driven by playwright-core (never a browser download), the
// real app on a loopback port, and a watcher that records CSP violations, page errors and dialogs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { authApp, PASSWORD } from '../helpers/auth.js';
import type { TestApp, TestAppOptions } from '../helpers/app.js';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** One browser per test file (launched in beforeAll); every test gets fresh contexts. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

export interface ServedApp extends TestApp {
  /** e.g. http://127.0.0.1:41234 */
  readonly origin: string;
}

/**
 * The real app (limits lifted, as in the HTTP tests) listening on a free loopback port, or on the
 * env's PORT when given (for links that must name the origin, such as a reset mail's).
 */
export async function serveApp(options: TestAppOptions = {}): Promise<ServedApp> {
  const t = await authApp(options);
  const origin = await t.app.listen({ host: '127.0.0.1', port: Number(options.env?.PORT ?? 0) });
  return Object.assign(t, { origin });
}

/** A page of another origin (an attacker's site): a second loopback server on another port. */
export async function serveHtml(body: (url: URL) => string, headers: Record<string, string> = {}): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(body(new URL(req.url ?? '/', 'http://attacker.invalid')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Collected by `watch`: anything here at the end of a test is a failure of the page. */
export interface PageWatch {
  readonly violations: string[];
  readonly pageErrors: string[];
  readonly cspConsole: string[];
  /** Console errors other than Chromium's own note of a 4xx answer (how forms report their errors). */
  readonly consoleErrors: string[];
  readonly dialogs: string[];
  /** Asserts the page (every page it visited so far) stayed inside its CSP and raised nothing. */
  expectClean(): Promise<void>;
}

// Runs before any page script, in every document: each violation is reported to the test at once,
// so reports of a document the page has since navigated away from are not lost.
const RECORD_VIOLATIONS = `document.addEventListener('securitypolicyviolation', (e) => {
  const report = window.__reportCspViolation;
  if (typeof report === 'function') report(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber);
}, true);`;

export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  await context.addInitScript({ content: RECORD_VIOLATIONS });
  return context;
}

/** Opens a page in `context` that records everything `PageWatch` checks. */
export async function watchedPage(context: BrowserContext): Promise<{ page: Page; watch: PageWatch }> {
  const page = await context.newPage();
  const w = { violations: [] as string[], pageErrors: [] as string[], cspConsole: [] as string[], consoleErrors: [] as string[], dialogs: [] as string[] };
  await page.exposeFunction('__reportCspViolation', (text: string) => w.violations.push(text));
  page.on('pageerror', (err) => w.pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (/Content[- ]Security[- ]Policy|Refused to (execute|load|apply|evaluate|connect|frame)/i.test(msg.text())) w.cspConsole.push(msg.text());
    // A form answered 4xx is how pages show errors: Chromium notes each such response itself
    // ("Failed to load resource"); anything else logged as an error is a fault of the page.
    else if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) w.consoleErrors.push(msg.text());
  });
  page.on('dialog', (dialog) => {
    w.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => undefined);
  });
  return {
    page,
    watch: {
      ...w,
      async expectClean() {
        expect({ violations: w.violations, pageErrors: w.pageErrors, cspConsole: w.cspConsole, consoleErrors: w.consoleErrors, dialogs: w.dialogs })
          .toEqual({ violations: [], pageErrors: [], cspConsole: [], consoleErrors: [], dialogs: [] });
      },
    },
  };
}

export { PASSWORD };

/** Signs up through the page, as a person would. */
export async function signUp(page: Page, origin: string, account: { username: string; email?: string; password?: string; fullName?: string }): Promise<void> {
  await page.goto(`${origin}/register`);
  await page.getByLabel('Email').fill(account.email ?? `${account.username}@example.com`);
  await page.getByLabel('Username').fill(account.username);
  if (account.fullName) await page.getByLabel('Full name').fill(account.fullName);
  await page.getByLabel('Password').fill(account.password ?? PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${origin}/login?registered=1`);
}

/** Signs in through the page and waits for the account page (or `next`). */
export async function signIn(page: Page, origin: string, username: string, password = PASSWORD, next = '/account'): Promise<void> {
  await page.goto(`${origin}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Username or email').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${origin}${next}`);
}

/**
 * `expect.poll` with room for a loaded machine: vitest's default gives up after one second, less
 * than a password hash and a page swap can take while the whole suite runs on two cores.
 */
export function eventually<T>(probe: () => T | Promise<T>): Eventually {
  return expect.poll(probe, { timeout: 15_000, interval: 50 }) as unknown as Eventually;
}

/** The matchers the browser tests poll with (vitest's own poll type cannot be named in a declaration). */
export interface Eventually {
  toBe(expected: unknown): Promise<void>;
  toEqual(expected: unknown): Promise<void>;
  toContain(expected: unknown): Promise<void>;
  toBeGreaterThan(expected: number): Promise<void>;
}

/**
 * Waits until htmx has finished with the page: no request in flight, no swap or settle under way,
 * and focus moved where the server asked (the page script clears data-focus on htmx:afterSettle).
 * A test that types before then races the focus move: Playwright's fill inserts text into whatever
 * has focus, so the text could land in the field focus moves to, as a person's would not.
 */
export async function settled(page: Page): Promise<void> {
  await eventually(() => page.locator('.htmx-request, .htmx-swapping, .htmx-settling, [data-focus]').count()).toBe(0);
}
