import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.js';

describe('operations endpoints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.close());

  it('GET /healthz answers 200 {"status":"ok"} as UTF-8 JSON', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 while the database answers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /openapi.json is an OpenAPI 3 document with the password, bearer and API-key schemes', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    const schemes = Object.values(doc.components.securitySchemes) as { type: string; scheme?: string; flows?: object }[];
    expect(schemes.some((s) => s.type === 'oauth2' && s.flows && 'password' in s.flows)).toBe(true);
    expect(schemes.some((s) => s.type === 'http' && s.scheme === 'bearer')).toBe(true);
    expect(schemes.some((s) => s.type === 'apiKey')).toBe(true);
  });
});
