// Contract "Headers on every response": the exact security headers on success, routing, validation
// and server errors, in development and production; the strict nonce CSP of /docs; TRACE and 405.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeRoutes, testApp, type TestApp } from '../helpers/app.js';

const API_CSP = "default-src 'none'; frame-ancestors 'none'";
const HSTS = 'max-age=31536000; includeSubDomains';

/** One request per status the contract names, plus the framework's own error paths. */
const RESPONSES: readonly { readonly name: string; readonly status: number; readonly request: InjectOptions }[] = [
  { name: '200', status: 200, request: { method: 'GET', url: '/healthz' } },
  { name: '404', status: 404, request: { method: 'GET', url: '/api/v1/no-such-thing' } },
  { name: '405', status: 405, request: { method: 'DELETE', url: '/healthz' } },
  { name: '422', status: 422, request: { method: 'POST', url: '/api/v1/_probe/echo', payload: {} } },
  { name: '500', status: 500, request: { method: 'GET', url: '/api/v1/_probe/boom' } },
  { name: '415', status: 415, request: { method: 'POST', url: '/api/v1/_probe/echo', payload: 'x', headers: { 'content-type': 'text/plain' } } },
  // Fastify answers malformed URLs before any hook runs; the headers must still be there.
  { name: '400 (bad percent-encoding)', status: 400, request: { method: 'GET', url: '/api/v1/%zz' } },
];

function expectBaseline(res: LightMyRequestResponse): void {
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
  expect(res.headers['x-xss-protection']).toBe('0');
  expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
  const permissions = String(res.headers['permissions-policy']).split(',').map((d) => d.trim());
  for (const feature of ['camera', 'microphone', 'geolocation']) expect(permissions).toContain(`${feature}=()`);
  // Fingerprinting: no framework banner, no server version.
  expect(res.headers['x-powered-by']).toBeUndefined();
  expect(res.headers.server).toBeUndefined();
  expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
}

describe('security headers in development', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ routes: probeRoutes() });
  });
  afterAll(() => t.close());

  for (const { name, status, request } of RESPONSES) {
    it(`${name}: every contract header, the API CSP, JSON as UTF-8, no HSTS`, async () => {
      const res = await t.app.inject(request);
      expect(res.statusCode).toBe(status);
      expectBaseline(res);
      expect(res.headers['content-security-policy']).toBe(API_CSP);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      // HSTS over plain-HTTP development would pin browsers to https://localhost.
      expect(res.headers['strict-transport-security']).toBeUndefined();
    });
  }

  it('/openapi.json is JSON as UTF-8 with the API CSP', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    expectBaseline(res);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(API_CSP);
  });

  it('an unknown path is 404 {"detail":"Not Found"}', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/no/such/page' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ detail: 'Not Found' });
  });

  it('a known path with another method is 405 with Allow naming the methods that exist', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const res = await t.app.inject({ method, url: '/healthz' });
      expect(res.statusCode, method).toBe(405);
      expect(res.json()).toEqual({ detail: 'Method Not Allowed' });
      const allow = String(res.headers.allow).split(',').map((m) => m.trim());
      expect(allow).toContain('GET');
      expect(allow).not.toContain(method);
    }
    const post = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/echo' });
    expect(post.statusCode).toBe(405);
    expect(String(post.headers.allow).split(',').map((m) => m.trim())).toEqual(['POST']);
  });

  it('TRACE is 405 on known and unknown paths and never echoes the request (cross-site tracing)', async () => {
    for (const url of ['/healthz', '/api/v1/no-such-thing', '/', '/docs']) {
      const res = await t.app.inject({ method: 'TRACE', url, headers: { cookie: 'access_token=echo-me', 'x-probe': 'echo-me' } });
      expect(res.statusCode, url).toBe(405);
      expect(res.json()).toEqual({ detail: 'Method Not Allowed' });
      expect(res.body).not.toContain('echo-me');
      expectBaseline(res);
    }
  });

  describe('/docs page CSP', () => {
    const directives = (csp: string) => new Map(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
      const [name, ...values] = d.split(/\s+/);
      return [name!, values] as const;
    }));

    it('uses a fresh nonce of at least 128 bits that the HTML scripts carry, and no inline script allowance', async () => {
      const first = await t.app.inject({ method: 'GET', url: '/docs' });
      const second = await t.app.inject({ method: 'GET', url: '/docs' });
      const nonces: string[] = [];
      for (const res of [first, second]) {
        expect(res.statusCode).toBe(200);
        expectBaseline(res);
        expect(res.headers['content-type']).toMatch(/^text\/html; charset=utf-8$/i);
        const csp = directives(String(res.headers['content-security-policy']));
        const script = csp.get('script-src') ?? csp.get('default-src')!;
        expect(script).not.toContain("'unsafe-inline'");
        expect(script).not.toContain('*');
        expect(csp.get('object-src')).toEqual(["'none'"]);
        expect(csp.get('base-uri')).toEqual(["'none'"]);
        const nonceSources = script.filter((s) => s.startsWith("'nonce-"));
        expect(nonceSources).toHaveLength(1);
        const nonce = nonceSources[0]!.slice("'nonce-".length, -1);
        expect(Buffer.from(nonce, 'base64').length).toBeGreaterThanOrEqual(16);
        // Every script element carries exactly this nonce; none is without one.
        const scripts = [...res.body.matchAll(/<script\b([^>]*)>/gi)].map((m) => m[1]!);
        expect(scripts.length).toBeGreaterThan(0);
        for (const attrs of scripts) expect(attrs).toContain(`nonce="${nonce}"`);
        nonces.push(nonce);
      }
      expect(nonces[0]).not.toBe(nonces[1]);
    });

    it('is not the API CSP and still forbids framing', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/docs' });
      expect(res.headers['content-security-policy']).not.toBe(API_CSP);
      expect(directives(String(res.headers['content-security-policy'])).get('frame-ancestors')).toEqual(["'none'"]);
    });
  });
});

describe('security headers in production', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Requests arrive through a loopback TLS proxy, so they count as HTTPS and reach the routes.
    t = await testApp({
      env: { ENVIRONMENT: 'production', ALLOWED_ORIGINS: 'https://app.example.com', TRUST_PROXY: 'loopback' },
      routes: probeRoutes(),
    });
  });
  afterAll(() => t.close());

  for (const { name, status, request } of RESPONSES) {
    it(`${name}: the same headers plus HSTS exactly`, async () => {
      const res = await t.app.inject({ ...request, headers: { ...request.headers, 'x-forwarded-proto': 'https' } });
      expect(res.statusCode).toBe(status);
      expectBaseline(res);
      expect(res.headers['content-security-policy']).toBe(API_CSP);
      expect(res.headers['strict-transport-security']).toBe(HSTS);
    });
  }

  it('HSTS is also on the plain-HTTP refusal and redirect', async () => {
    const api = await t.app.inject({ method: 'GET', url: '/api/v1/no-such-thing' });
    expect(api.statusCode).toBe(400);
    expect(api.headers['strict-transport-security']).toBe(HSTS);
    const page = await t.app.inject({ method: 'GET', url: '/some/page' });
    expect(page.statusCode).toBe(308);
    expectBaseline(page);
  });

  it('/docs keeps the nonce CSP in production', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs', headers: { 'x-forwarded-proto': 'https' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['strict-transport-security']).toBe(HSTS);
    expect(String(res.headers['content-security-policy'])).toMatch(/script-src 'nonce-[A-Za-z0-9+/=_-]{22,}'/);
  });
});
