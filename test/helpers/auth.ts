// Signing up and signing in through the real HTTP routes, for tests: register, the OAuth2 token
// form, refresh, bearer headers, and a look inside a JWT (the tests decide what to trust in it).
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { GatehouseApp } from '../../src/app.js';
import { testApp, type TestApp, type TestAppOptions } from './app.js';
import { userJson } from '../../src/routes/schemas.js';

/**
 * Rate limits and the lockout are proved in their own files; here they are lifted so that a file
 * can sign in and fail as often as its clauses need.
 */
export const UNLIMITED_ENV = { RATE_LIMIT_AUTH: '100000/minute', RATE_LIMIT_DEFAULT: '100000/minute', LOCKOUT_THRESHOLD: '1000' } as const;

/** The real app (testApp) with the limits lifted; `env` adds to or overrides them. */
export function authApp(options: TestAppOptions = {}): Promise<TestApp> {
  return testApp({ ...options, env: { ...UNLIMITED_ENV, ...options.env } });
}

/** Passes the policy (length, not on the common list, unrelated to any test username). */
export const PASSWORD = 'correct horse battery staple';

export interface UserJson {
  readonly id: number;
  readonly username: string;
  readonly email: string;
  readonly full_name: string | null;
  readonly role: 'user' | 'admin';
  readonly is_active: boolean;
  readonly mfa_enabled: boolean;
  readonly created_at: string;
}

export interface TokenPair {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly token_type: 'bearer';
  readonly expires_in: number;
  readonly scope: string;
}

export const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` });

/** An `application/x-www-form-urlencoded` request body, as OAuth2 clients send it. */
export function form(fields: Record<string, string>): { payload: string; headers: { 'content-type': string } } {
  return { payload: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
}

export interface NewAccount {
  readonly username: string;
  readonly email?: string;
  readonly password?: string;
  readonly full_name?: string | null;
}

export function registerRaw(app: GatehouseApp, body: unknown): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: body as Record<string, unknown> });
}

/** Registers an account (email defaults to `<username>@example.com`) and returns its user JSON. */
export async function register(app: GatehouseApp, account: NewAccount): Promise<UserJson> {
  const res = await registerRaw(app, {
    email: account.email ?? `${account.username}@example.com`,
    username: account.username,
    password: account.password ?? PASSWORD,
    ...(account.full_name !== undefined ? { full_name: account.full_name } : {}),
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<UserJson>();
}

/** Registers an account and makes it an admin the way an operator would (the bootstrap path). */
export async function registerAdmin(app: GatehouseApp, username: string, password = PASSWORD): Promise<UserJson> {
  const user = await app.gatehouse.users.register({ email: `${username}@example.com`, username, password }, 'admin');
  return userJson(user);
}

export function login(app: GatehouseApp, username: string, password = PASSWORD, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const body = form({ grant_type: 'password', username, password, ...extra });
  return app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: body.payload, headers: { ...body.headers, ...headers } });
}

/** Signs in with the password grant and returns the token pair (fails the test on anything but 200). */
export async function tokenFor(app: GatehouseApp, username: string, password = PASSWORD, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<TokenPair> {
  const res = await login(app, username, password, extra, headers);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<TokenPair>();
}

export function refresh(app: GatehouseApp, refreshToken: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: refreshToken } });
}

export function me(app: GatehouseApp, accessToken: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(accessToken) });
}

export interface DecodedJwt {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly signature: string;
}

/** Reads a JWT's header and payload without checking anything. */
export function decodeJwt(token: string): DecodedJwt {
  const [h, p, s] = token.split('.');
  const part = (text: string | undefined) => JSON.parse(Buffer.from(text ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: part(h), payload: part(p), signature: s ?? '' };
}

/** The 401 every rejected token gets: the same body and a challenge naming invalid_token (RFC 6750 §3.1). */
export function expectInvalidToken(res: LightMyRequestResponse, label = ''): void {
  expect(res.statusCode, `${label} ${res.body}`).toBe(401);
  expect(res.json()).toEqual({ detail: 'Could not validate credentials' });
  expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
}

/** The 401 for a refresh token that is not live, whatever the reason. */
export function expectDeadRefresh(res: LightMyRequestResponse): void {
  expect(res.statusCode, res.body).toBe(401);
  expect(res.json()).toEqual({ detail: 'Invalid or expired refresh token', error: 'invalid_grant' });
  expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
  expect(res.body).not.toMatch(/access_token|refresh_token"/);
}
