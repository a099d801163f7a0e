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

  it('every operation has an operationId, each one different (client generators name functions by it)', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { operationId?: string }>> };
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(ids.length).toBeGreaterThan(20);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z]+_[A-Za-z0-9_]+$/.test(id)), ids.join()).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain('post_api_v1_auth_token');
  });

  it('documents what the server really answers: 413 and 415 where a body is read, X-Total-Count on the user list', async () => {
    type Op = { requestBody?: unknown; responses: Record<string, { headers?: Record<string, unknown> }> };
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Op>> };
    const withBody = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => op.requestBody).map(([method, op]) => [`${method} ${path}`, op] as const));
    expect(withBody.length).toBeGreaterThan(10);
    for (const [name, op] of withBody) expect(Object.keys(op.responses), name).toEqual(expect.arrayContaining(['413', '415', '422']));
    expect(doc.paths['/api/v1/admin/users']!.get!.responses['200']!.headers).toHaveProperty('X-Total-Count');
    // Routes that read no body do not claim these.
    expect(Object.keys(doc.paths['/api/v1/users/me']!.get!.responses)).not.toContain('415');
  });

  it('each operation lists the scopes it needs on the OAuth2 scheme, and the answers every API route may give', async () => {
    type Op = { security?: Record<string, string[]>[]; responses: Record<string, unknown>; requestBody?: { required?: boolean } };
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Op>> };
    const oauthScopes = (op: Op) => op.security?.find((s) => 'OAuth2PasswordBearer' in s)?.OAuth2PasswordBearer;
    expect(oauthScopes(doc.paths['/api/v1/users/me']!.get!)).toEqual(['profile:read']);
    expect(oauthScopes(doc.paths['/api/v1/users/me']!.patch!)).toEqual(['profile:write']);
    expect(oauthScopes(doc.paths['/api/v1/admin/users']!.get!)).toEqual(['admin']);
    expect(oauthScopes(doc.paths['/api/v1/api-keys']!.post!)).toEqual(['profile:write']);
    for (const [path, ops] of Object.entries(doc.paths).filter(([path]) => path.startsWith('/api/'))) {
      for (const [method, op] of Object.entries(ops)) expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['429', '503']));
    }
    // Routes that take no body say it is optional (the contract: "body: none").
    expect(doc.paths['/api/v1/auth/logout']!.post!.requestBody?.required).toBe(false);
    expect(doc.paths['/api/v1/api-keys/{id}']!.delete!.requestBody?.required).toBe(false);
    expect(doc.paths['/api/v1/auth/register']!.post!.requestBody?.required).toBe(true);
    // An API key's scopes are one of the three.
    const newKey = (doc.paths['/api/v1/api-keys']!.post!.requestBody as unknown as { content: Record<string, { schema: { properties: { scopes: { items: { anyOf: { enum: string[] }[] } } } } }> })
      .content['application/json']!.schema.properties.scopes.items.anyOf.flatMap((s) => s.enum);
    expect(newKey).toEqual(['profile:read', 'profile:write', 'admin']);
  });

  it('paging parameters with defaults are documented as optional', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { parameters?: { name: string; in: string; required?: boolean; schema?: { default?: number } }[] }>> };
    for (const path of ['/api/v1/admin/users', '/api/v1/admin/audit']) {
      const params = doc.paths[path]!.get!.parameters!.filter((p) => p.in === 'query' && (p.name === 'limit' || p.name === 'offset'));
      expect(params.map((p) => [p.name, p.required ?? false, p.schema?.default]).sort(), path).toEqual([['limit', false, 50], ['offset', false, 0]]);
    }
  });

  it('the token form\'s optional fields default as FastAPI\'s do, so the docs page\'s "Try it out" sends a working form', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: { properties: Record<string, { default?: string }> } }> } }>> };
    const form = doc.paths['/api/v1/auth/token']!.post!.requestBody.content['application/x-www-form-urlencoded']!.schema.properties;
    expect(form.grant_type!.default).toBe('password');
    for (const name of ['scope', 'otp', 'refresh_token', 'client_id', 'client_secret']) expect(form[name]!.default, name).toBe('');
  });
});
