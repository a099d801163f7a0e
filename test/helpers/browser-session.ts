// A browser session driven with inject(): the Set-Cookie headers a response sends, parsed with their
// attributes, a cookie jar that follows them, and sign-in through POST /api/v1/auth/login.
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { GatehouseApp } from '../../src/app.js';
import { PASSWORD } from './auth.js';

export interface SetCookie {
  readonly name: string;
  readonly value: string;
  /** Attribute names lower-cased (`path`, `max-age`, `httponly`, …) → value ('' for flags). */
  readonly attributes: Readonly<Record<string, string>>;
  /** The header exactly as sent. */
  readonly raw: string;
}

export function setCookies(res: LightMyRequestResponse): SetCookie[] {
  const header = res.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return lines.map((raw) => {
    const [pair = '', ...attrs] = raw.split(';').map((p) => p.trim());
    const eq = pair.indexOf('=');
    const attributes: Record<string, string> = {};
    for (const attr of attrs) {
      const i = attr.indexOf('=');
      attributes[(i === -1 ? attr : attr.slice(0, i)).toLowerCase()] = i === -1 ? '' : attr.slice(i + 1);
    }
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes, raw };
  });
}

/** The cookies a browser would hold: set by responses, removed when cleared (empty or Max-Age=0). */
export class CookieJar {
  readonly values = new Map<string, string>();

  constructor(initial: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(initial)) this.values.set(k, v);
  }

  take(res: LightMyRequestResponse): this {
    for (const c of setCookies(res)) {
      if (c.value === '' || c.attributes['max-age'] === '0') this.values.delete(c.name);
      else this.values.set(c.name, c.value);
    }
    return this;
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  without(...names: string[]): CookieJar {
    const copy = new CookieJar(Object.fromEntries(this.values));
    for (const n of names) copy.values.delete(n);
    return copy;
  }

  /** The Cookie request header (only cookie names given, if any). */
  header(...only: string[]): string {
    return [...this.values].filter(([k]) => only.length === 0 || only.includes(k)).map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export interface BrowserLogin {
  readonly jar: CookieJar;
  readonly csrf: string;
  readonly userId: number;
}

/** Signs in as a browser does (POST /api/v1/auth/login) and returns its cookies and CSRF token. */
export async function browserLogin(app: GatehouseApp, username: string, password = PASSWORD, headers: Record<string, string> = {}): Promise<BrowserLogin> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, headers });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<{ csrf_token: string; user: { id: number } }>();
  return { jar: new CookieJar().take(res), csrf: body.csrf_token, userId: body.user.id };
}

/** The hidden `csrf_token` field of the first form in a page (or fragment). */
export function formToken(html: string): string {
  const match = /name="csrf_token" value="([^"]*)"/.exec(html);
  if (!match) throw new Error('no csrf_token field in the page');
  return match[1]!;
}

/** GET a page as a browser would: its cookies go into (and come from) the jar. */
export async function getPage(app: GatehouseApp, url: string, jar: CookieJar, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const res = await app.inject({ method: 'GET', url, headers: { cookie: jar.header(), ...headers } });
  jar.take(res);
  return res;
}

/**
 * A form post as a browser sends it: urlencoded, with the page's Origin (the app's PUBLIC_URL by
 * default; pass `origin: undefined` in `headers` to leave it out).
 */
export async function postForm(
  app: GatehouseApp, url: string, fields: Record<string, string> | [string, string][], jar: CookieJar,
  headers: Record<string, string | undefined> = {}, method: 'POST' | 'PATCH' = 'POST',
): Promise<LightMyRequestResponse> {
  const merged: Record<string, string | undefined> = { origin: app.gatehouse.config.publicUrl, cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', ...headers };
  const sent = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
  const res = await app.inject({ method, url, headers: sent, payload: new URLSearchParams(fields).toString() });
  jar.take(res);
  return res;
}

/** Signs in through the sign-in page (GET for the pre-session token, then the form post). */
export async function pageLogin(app: GatehouseApp, username: string, password = PASSWORD): Promise<{ jar: CookieJar; csrf: string }> {
  const jar = new CookieJar();
  const form = await getPage(app, '/login', jar);
  const res = await postForm(app, '/login', { username, password, csrf_token: formToken(form.body), next: '/account' }, jar);
  expect(res.statusCode, res.body).toBe(303);
  return { jar, csrf: jar.get(app.gatehouse.config.isProduction ? '__Host-csrf_token' : 'csrf_token')! };
}
