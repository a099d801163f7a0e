// Attacks on the CORS allow-list: every origin that is not exactly listed (prefix and suffix
// tricks, `null` from sandboxed frames, another port or scheme, case games, lists) gets no
// Access-Control-Allow-Origin at all, on simple and on preflight requests, and never credentials.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeRoutes, testApp, type TestApp } from '../helpers/app.js';

/** The default list is http://localhost:3000 and http://localhost:8000. */
const HOSTILE_ORIGINS = [
  'https://evil.example.net',
  'http://localhost:3000.evil.net', // prefix trick: a startsWith() check passes it
  'http://evil-localhost:3000', // suffix trick: an endsWith('localhost:3000') check passes it
  'http://evil.localhost:3000', // a subdomain of the listed host
  'http://localhost:30000', // the port as a prefix
  'http://localhost:300', // the port truncated
  'http://localhost', // the port dropped
  'http://localhost:3001', // another port
  'https://localhost:3000', // another scheme
  'HTTP://LOCALHOST:3000', // case variants are not what a browser sends for the listed origin
  'http://LocalHost:3000',
  'http://127.0.0.1:3000', // the same machine, another origin
  'http://localhost:3000/', // not an origin serialisation
  'http://localhost:3000/path',
  'http://user@localhost:3000',
  'http://localhost:3000, https://evil.example.net', // a list, hoping for a substring match
  'https://evil.example.net http://localhost:3000',
  'null', // sandboxed iframes and file:// pages send this
  'file://',
  '*',
  '',
];

function expectNoCors(res: LightMyRequestResponse, origin: string): void {
  expect(res.statusCode, origin).toBeLessThan(500);
  expect(res.headers['access-control-allow-origin'], origin).toBeUndefined();
  expect(res.headers['access-control-allow-credentials'], origin).toBeUndefined();
  expect(res.headers['access-control-allow-methods'], origin).toBeUndefined();
  expect(res.headers['access-control-allow-headers'], origin).toBeUndefined();
  expect(res.headers['access-control-expose-headers'], origin).toBeUndefined();
}

describe('CORS refuses every origin that is not exactly listed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ routes: probeRoutes() });
  });
  afterAll(() => t.close());

  for (const origin of HOSTILE_ORIGINS) {
    it(`simple and preflight requests from ${JSON.stringify(origin)}: no CORS headers`, async () => {
      const simple = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin } });
      expect(simple.statusCode).toBe(200);
      expectNoCors(simple, origin);

      const error = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', payload: {}, headers: { origin } });
      expectNoCors(error, origin);

      const preflight = await t.app.inject({
        method: 'OPTIONS',
        url: '/api/v1/_probe/echo',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
      });
      expectNoCors(preflight, origin);
    });
  }

  it('a refused preflight does not run or reveal the route', async () => {
    const res = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/_probe/boom',
      headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'GET' },
    });
    expectNoCors(res, 'https://evil.example.net');
    expect(res.body).not.toContain('SELECT');
  });
});

describe('CORS in production', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ env: { ENVIRONMENT: 'production', ALLOWED_ORIGINS: 'https://allowed.example.com', TRUST_PROXY: 'loopback' } });
  });
  afterAll(() => t.close());

  const origins = [
    'https://allowed.example.com.evil.net',
    'https://evilallowed.example.com',
    'https://sub.allowed.example.com',
    'http://allowed.example.com',
    'https://allowed.example.com:8443',
    'https://allowed.example.co',
    'https://allowed.example.comm',
  ];
  for (const origin of origins) {
    it(`${origin} gets no ACAO on simple or preflight requests`, async () => {
      const simple = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin, 'x-forwarded-proto': 'https' } });
      expectNoCors(simple, origin);
      const preflight = await t.app.inject({
        method: 'OPTIONS',
        url: '/healthz',
        headers: { origin, 'access-control-request-method': 'GET', 'x-forwarded-proto': 'https' },
      });
      expectNoCors(preflight, origin);
    });
  }
});

describe('ALLOWED_ORIGINS="*" (development only)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ env: { ALLOWED_ORIGINS: '*' } });
  });
  afterAll(() => t.close());

  it('never pairs a wildcard with credentials (which would hand any site the cookie session)', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://evil.example.net' } });
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers['access-control-allow-origin']).not.toBe('https://evil.example.net');
  });
});
