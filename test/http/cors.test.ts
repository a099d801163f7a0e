// Contract "CORS", the part a legitimate front end relies on: listed origins get their own origin
// back with credentials, preflights answer with the API's methods and headers, X-Total-Count and
// X-Request-ID are readable, and caches are told the answer depends on Origin.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeRoutes, testApp, type TestApp } from '../helpers/app.js';

const list = (value: unknown) => String(value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

function expectVaryOrigin(res: LightMyRequestResponse): void {
  expect(list(res.headers.vary)).toContain('origin');
}

describe('CORS for the default ALLOWED_ORIGINS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ routes: probeRoutes() });
  });
  afterAll(() => t.close());

  for (const origin of ['http://localhost:3000', 'http://localhost:8000']) {
    it(`a simple request from ${origin} gets that origin back, with credentials`, async () => {
      const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(origin);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expectVaryOrigin(res);
    });
  }

  it('exposes X-Total-Count and X-Request-ID to the page', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'http://localhost:3000' } });
    const exposed = list(res.headers['access-control-expose-headers']);
    expect(exposed).toContain('x-total-count');
    expect(exposed).toContain('x-request-id');
  });

  it('error responses to a listed origin carry CORS too, so the page can read the detail', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', payload: {}, headers: { origin: 'http://localhost:3000' } });
    expect(res.statusCode).toBe(422);
    expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3000');
    expectVaryOrigin(res);
  });

  it('a preflight from a listed origin answers with the methods the API uses and the headers it reads', async () => {
    const res = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/_probe/echo',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization, x-csrf-token',
      },
    });
    expect(res.statusCode).toBeGreaterThanOrEqual(200);
    expect(res.statusCode).toBeLessThan(300);
    expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3000');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expectVaryOrigin(res);
    const methods = list(res.headers['access-control-allow-methods']);
    for (const used of ['get', 'post', 'patch', 'delete']) expect(methods).toContain(used);
    // Restricted: nothing the API does not route, and never the tracing or tunnelling methods.
    for (const unused of ['put', 'trace', 'track', 'connect', '*']) expect(methods).not.toContain(unused);
    const headers = list(res.headers['access-control-allow-headers']);
    for (const h of ['content-type', 'authorization', 'x-api-key', 'x-csrf-token']) expect(headers).toContain(h);
    // An htmx page on an allowed origin sends these on every request.
    for (const h of ['hx-request', 'hx-current-url', 'hx-target', 'hx-trigger']) expect(headers).toContain(h);
    expect(headers).not.toContain('*');
  });

  it('a response without Origin still says Vary: Origin, so a shared cache cannot replay it cross-origin', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expectVaryOrigin(res);
  });
});

describe('CORS with a configured production origin', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({
      env: { ENVIRONMENT: 'production', ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com:8443', TRUST_PROXY: 'loopback' },
    });
  });
  afterAll(() => t.close());

  for (const origin of ['https://app.example.com', 'https://admin.example.com:8443']) {
    it(`${origin} (scheme, host and port exactly as listed) is allowed with credentials`, async () => {
      const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin, 'x-forwarded-proto': 'https' } });
      expect(res.headers['access-control-allow-origin']).toBe(origin);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
    });
  }

  it('the same host on the default port is another origin', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://admin.example.com', 'x-forwarded-proto': 'https' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});
