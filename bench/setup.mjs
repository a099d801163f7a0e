// Setup helpers scenarios call over HTTP before their load: register a user, get a token, check that an
// endpoint exists. A route that is not built yet (404) skips the scenario with a note instead of failing the run.
import { randomBytes } from 'node:crypto';

/** Thrown by a setup step when the scenario cannot run on this build; the run goes on without it. */
export class Skip extends Error {
  name = 'Skip';
}

/** One request; `json` or `form` sets the body and its content type. Resolves `{ status, headers, body }`. */
export async function call(server, method, path, { json, form, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['content-type'] = 'application/json';
  } else if (form !== undefined) {
    init.body = new URLSearchParams(form).toString();
    init.headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(server.url + path, init);
  const text = await res.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

/** A 404 means the route is not there yet; anything else unexpected is a real setup failure. */
function expect(res, status, what) {
  if (res.status === 404) throw new Skip(`${what} answers 404 (not built yet)`);
  if (res.status !== status) {
    throw new Error(`${what} answered ${res.status}, expected ${status}: ${JSON.stringify(res.body).slice(0, 200)}`);
  }
  return res.body;
}

/** Registers a fresh user through `POST /api/v1/auth/register`; returns its credentials. */
export async function registerUser(server) {
  const id = randomBytes(6).toString('hex');
  const user = {
    email: `bench_${id}@example.com`,
    username: `bench_${id}`,
    // Long and random: passes any length, composition or breached-password rule.
    password: `Bench-${randomBytes(18).toString('base64url')}-9`,
  };
  expect(await call(server, 'POST', '/api/v1/auth/register', { json: user }), 201, 'POST /api/v1/auth/register');
  return user;
}

/** The OAuth2 password grant body (RFC 6749 §4.3.2) for these credentials, form-encoded. */
export function passwordGrantBody(user) {
  return new URLSearchParams({ grant_type: 'password', username: user.username, password: user.password }).toString();
}

/** `POST /api/v1/auth/token` with the password grant; returns the access token. */
export async function passwordToken(server, user) {
  const res = await call(server, 'POST', '/api/v1/auth/token', {
    form: { grant_type: 'password', username: user.username, password: user.password },
  });
  const body = expect(res, 200, 'POST /api/v1/auth/token');
  if (typeof body?.access_token !== 'string') throw new Error('POST /api/v1/auth/token answered 200 without an access_token');
  return body.access_token;
}

/** Checks that `method path` answers `status` with these headers (404: skip). */
export async function requireEndpoint(server, method, path, status, headers = {}) {
  return expect(await call(server, method, path, { headers }), status, `${method} ${path}`);
}

/** The names and values of the headers one response carries (for the headers comparison). */
export async function responseHeaders(server, path) {
  const res = await call(server, 'GET', path);
  return Object.fromEntries([...res.headers].filter(([name]) => !['date', 'connection', 'keep-alive', 'content-length', 'content-type'].includes(name)));
}

/** A `profile:read` API key of this user, made through `POST /api/v1/api-keys` with a bearer token. */
export async function apiKeyFor(server, user) {
  const token = await passwordToken(server, user);
  const res = await call(server, 'POST', '/api/v1/api-keys', {
    json: { name: 'bench', scopes: ['profile:read'] },
    headers: { authorization: `Bearer ${token}` },
  });
  return expect(res, 201, 'POST /api/v1/api-keys').key;
}
