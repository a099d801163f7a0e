// Contract "Operations", logging: lines are JSON, and Authorization, cookies, X-API-Key, api_key
// and tokens in the URL never reach one. Each secret is a unique literal searched for in every
// serialized line the app wrote, so a leak through any field (not only the expected one) fails.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/logging/redaction.js';
import { probeRoutes, testApp, type TestApp } from '../helpers/app.js';

const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

describe('log lines never carry credentials', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ routes: probeRoutes() });
  });
  afterAll(() => t.close());

  /** Every line the app wrote, as the bytes an operator's log store would receive. */
  const written = () => t.logs.map((line) => JSON.stringify(line)).join('\n');

  it('headers and query secrets on success, 404, 422 and 500 responses', async () => {
    const bearer = secret('bearer');
    const cookie = secret('cookie');
    const apiKeyHeader = secret('apikeyheader');
    const apiKeyQuery = secret('apikeyquery');
    const token = secret('token');
    const refresh = secret('refresh');
    const password = secret('password');
    const csrf = secret('csrf');
    const all = [bearer, cookie, apiKeyHeader, apiKeyQuery, token, refresh, password, csrf];
    const headers = {
      authorization: `Bearer ${bearer}`,
      cookie: `access_token=${cookie}; csrf_token=${csrf}`,
      'x-api-key': apiKeyHeader,
      'x-csrf-token': csrf,
    };
    const query = `api_key=${apiKeyQuery}&token=${token}&refresh_token=${refresh}&password=${password}&page=2`;
    const before = t.logs.length;
    const statuses = [];
    for (const url of ['/healthz', '/api/v1/no-such-thing', '/api/v1/_probe/search', '/api/v1/_probe/boom', '/api/v1/_probe/whoami']) {
      statuses.push((await t.app.inject({ method: 'GET', url: `${url}?${query}`, headers })).statusCode);
    }
    statuses.push((await t.app.inject({ method: 'POST', url: `/api/v1/_probe/echo?${query}`, headers, payload: { username: 'alice', password, extra: token } })).statusCode);
    expect(statuses).toEqual([200, 404, 422, 500, 200, 422]);
    expect(t.logs.length).toBeGreaterThan(before);
    const text = written();
    for (const value of all) expect(text, `a log line contains ${value.split('-')[0]}`).not.toContain(value);
    // Redacted, not dropped: the line still says which request it was.
    expect(text).toContain('api_key=[REDACTED]');
    expect(text).toContain('page=2');
  });

  it('query secrets under other spellings: case, encoding, brackets, semicolons', async () => {
    const values = Array.from({ length: 7 }, (_, i) => secret(`q${i}`));
    const urls = [
      `/api/v1/x?API_KEY=${values[0]}`,
      `/api/v1/x?api%5Fkey=${values[1]}`,
      `/api/v1/x?api_key[]=${values[2]}`,
      `/api/v1/x?a=1;access_token=${values[3]}`,
      `/api/v1/x?Access_Token=${values[4]}`,
      `/api/v1/x?%zz&client_secret=${values[5]}`,
      `/api/v1/x?api_key=${values[6]}&api_key=${values[6]}`,
    ];
    for (const url of urls) await t.app.inject({ method: 'GET', url });
    const text = written();
    for (const value of values) expect(text).not.toContain(value);
  });

  it('secrets as matrix parameters in the path (`/x;api_key=…`), the rest of the address kept', async () => {
    const values = Array.from({ length: 3 }, (_, i) => secret(`m${i}`));
    const urls = [`/api/v1/users/me;api_key=${values[0]}`, `/reset-password;token=${values[1]}?page=2`, `/api/v1/x;a=1;Api_Key=${values[2]}?q=1`];
    for (const url of urls) await t.app.inject({ method: 'GET', url });
    const text = written();
    for (const value of values) expect(text).not.toContain(value);
    expect(text).toContain('/api/v1/users/me;api_key=[REDACTED]');
    expect(text).toContain('/api/v1/x;a=1;Api_Key=[REDACTED]?q=1');
  });

  it('every line is one JSON object with a level, a time and a message', () => {
    expect(t.logs.length).toBeGreaterThan(0);
    for (const line of t.logs) {
      expect(typeof line.level).toBe('number');
      expect(typeof line.time).toBe('number');
      expect(typeof line.msg).toBe('string');
    }
  });

  it('the request line records the real client, not a spoofed X-Forwarded-For', async () => {
    await t.app.inject({ method: 'GET', url: '/api/v1/no-such-thing', remoteAddress: '198.51.100.23', headers: { 'x-forwarded-for': '6.6.6.6', 'x-request-id': 'spoof-check' } });
    const line = t.logs.find((l) => l.reqId === 'spoof-check' && l.msg === 'request completed') as { req?: { ip?: string } } | undefined;
    expect(line?.req?.ip).toBe('198.51.100.23');
    expect(JSON.stringify(line)).not.toContain('6.6.6.6');
  });

  it('a hostile URL cannot forge a second log line', async () => {
    const before = t.logs.length;
    await t.app.inject({ method: 'GET', url: '/api/v1/x?q=%0A%7B%22level%22%3A60%2C%22msg%22%3A%22forged%22%7D' });
    const added = t.logs.slice(before);
    expect(added.every((l) => l.msg !== 'forged')).toBe(true);
  });
});

describe('a credential in a page address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.close());

  it('is not carried into the sign-in redirect, and no log line holds it, even nested in next', async () => {
    const key = secret('gk_pagekey');
    const token = secret('pagetoken');
    for (const path of ['/account', '/admin', '/account/api-keys']) {
      const res = await t.app.inject({ method: 'GET', url: `${path}?api_key=${key}&tab=keys&access_token=${token}` });
      expect(res.statusCode, path).toBe(303);
      const location = String(res.headers.location);
      expect(location).toMatch(/^\/login\?next=/);
      expect(decodeURIComponent(location)).toContain('tab=keys');
      for (const value of [key, token]) expect(location).not.toContain(value);
      await t.app.inject({ method: 'GET', url: location });
    }
    // An address someone else built (a link in a mail, a bookmark) with the secret nested in next.
    await t.app.inject({ method: 'GET', url: `/login?next=${encodeURIComponent(`/account?api_key=${key}&x=${encodeURIComponent(`/y?token=${token}`)}`)}` });
    const text = t.logs.map((line) => JSON.stringify(line)).join('\n');
    for (const value of [key, token]) expect(text).not.toContain(value);
    expect(text).toContain('next=');
  });
});

describe('redactUrl', () => {
  it('redacts inside a parameter that is itself an address with a query (a sign-in page\'s next)', () => {
    expect(redactUrl(`/login?next=${encodeURIComponent('/account?api_key=abc&tab=1')}`))
      .toBe(`/login?next=${encodeURIComponent('/account?api_key=[REDACTED]&tab=1')}`);
    const twice = `/login?next=${encodeURIComponent(`/a?back=${encodeURIComponent('/b?token=xyz')}`)}`;
    expect(redactUrl(twice)).not.toContain('xyz');
    // Nothing secret inside: left byte for byte.
    const plain = `/login?next=${encodeURIComponent('/account?tab=1')}`;
    expect(redactUrl(plain)).toBe(plain);
  });

  it('redacts secret parameters and keeps the rest byte for byte', () => {
    expect(redactUrl('/x?api_key=abc&page=2')).toBe('/x?api_key=[REDACTED]&page=2');
    expect(redactUrl('/x?page=2&token=abc#frag')).toBe('/x?page=2&token=[REDACTED]');
    expect(redactUrl('/x')).toBe('/x');
    expect(redactUrl('/x?')).toBe('/x?');
    expect(redactUrl('/x?a=1;code=123456')).toBe('/x?a=1;code=[REDACTED]');
    // A mis-encoded `=` puts the value inside the name: still the secret's name, still redacted.
    expect(redactUrl('/x?api_key%3Dsecretvalue&page=2')).toBe('/x?api_key=[REDACTED]&page=2');
    expect(redactUrl('/x?TOKEN%3dabc')).toBe('/x?TOKEN=[REDACTED]');
  });
});
