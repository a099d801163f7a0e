// Contract "Every response carries X-Request-ID": a well-formed incoming id (1–128 characters of
// [A-Za-z0-9._:-]) is echoed; anything else (too long, spaces, header-injection attempts, empty)
// is replaced by a generated one; and it is there on success and on every kind of error.
import type { AddressInfo } from 'node:net';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeRoutes, testApp, type TestApp } from '../helpers/app.js';
import { rawExchange } from '../helpers/raw-http.js';

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

describe('X-Request-ID', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ env: { MAX_BODY_BYTES: '1024' }, routes: probeRoutes() });
  });
  afterAll(() => t.close());

  const idFor = async (value: string | string[]) =>
    (await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': value } })).headers['x-request-id'];

  it('echoes a well-formed incoming id', async () => {
    for (const id of ['abc', 'a', '0f72a939-8977-4e32-b6f3-4877a9154ee7', 'trace.span:01_ABC-z', 'x'.repeat(128)]) {
      expect(await idFor(id)).toBe(id);
    }
  });

  it('replaces an id that breaks the rule with a generated one', async () => {
    const bad = ['x'.repeat(129), 'has space', ' leading', 'trailing ', 'tab\there', 'semi;colon', '<script>alert(1)</script>',
      'quote"d', 'slash/ed', 'ünïcode', 'a,b', '${jndi:ldap://x}', 'line\nbreak'];
    for (const value of bad) {
      const id = await idFor(value);
      expect(id, JSON.stringify(value)).not.toBe(value);
      expect(id).toMatch(WELL_FORMED);
    }
  });

  it('replaces an empty id and a repeated header', async () => {
    const empty = await idFor('');
    expect(empty).toMatch(WELL_FORMED);
    const repeated = await idFor(['first-id', 'second-id']);
    expect(repeated).toMatch(WELL_FORMED);
    expect(String(repeated)).not.toContain(',');
  });

  it('generates a different id for every request without one', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add(String((await t.app.inject({ method: 'GET', url: '/healthz' })).headers['x-request-id']));
    expect(ids.size).toBe(20);
    for (const id of ids) expect(id).toMatch(WELL_FORMED);
  });

  const everywhere: { status: number; request: InjectOptions }[] = [
    { status: 200, request: { method: 'GET', url: '/healthz' } },
    { status: 404, request: { method: 'GET', url: '/api/v1/no-such-thing' } },
    { status: 405, request: { method: 'PUT', url: '/healthz' } },
    { status: 405, request: { method: 'TRACE', url: '/' } },
    { status: 413, request: { method: 'POST', url: '/api/v1/_probe/echo', payload: { username: 'alice', password: 'x'.repeat(2000) } } },
    { status: 415, request: { method: 'POST', url: '/api/v1/_probe/echo', payload: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } } },
    { status: 422, request: { method: 'POST', url: '/api/v1/_probe/echo', payload: { role: 'admin' } } },
    { status: 500, request: { method: 'GET', url: '/api/v1/_probe/boom' } },
    { status: 400, request: { method: 'GET', url: '/api/v1/%zz' } },
  ];
  for (const { status, request } of everywhere) {
    it(`is on the ${status} for ${request.method} ${request.url}, generated or echoed`, async () => {
      const generated = await t.app.inject(request);
      expect(generated.statusCode).toBe(status);
      expect(generated.headers['x-request-id']).toMatch(WELL_FORMED);
      const echoed = await t.app.inject({ ...request, headers: { ...request.headers, 'x-request-id': `probe-${status}` } });
      expect(echoed.statusCode).toBe(status);
      expect(echoed.headers['x-request-id']).toBe(`probe-${status}`);
    });
  }

  it('the log line of a request carries the same id as the response', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/no-such-thing', headers: { 'x-request-id': 'log-correlation-1' } });
    expect(res.headers['x-request-id']).toBe('log-correlation-1');
    expect(t.logs.some((line) => line.reqId === 'log-correlation-1' && line.msg === 'request completed')).toBe(true);
  });

  it('every request has its one log line, those refused before routing (a malformed URL) too, credentials redacted', async () => {
    const key = `gk_abcdefgh_${'S'.repeat(43)}`;
    for (const [n, url] of ['/api/v1/users/me/%ZZ', '/%ZZ', '/api/v1/no-such-thing'].entries()) {
      const id = `one-line-${n}`;
      const res = await t.app.inject({ method: 'GET', url: `${url}?api_key=${key}`, headers: { 'x-request-id': id } });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      const lines = t.logs.filter((line) => line.reqId === id && line.msg === 'request completed');
      expect(lines, url).toHaveLength(1);
      expect(JSON.stringify(lines[0])).not.toContain(key);
      expect((lines[0]!.res as { statusCode: number }).statusCode).toBe(res.statusCode);
    }
  });

  describe('over a real socket', () => {
    let port: number;
    beforeAll(async () => {
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      port = (t.app.server.address() as AddressInfo).port;
    });

    const raw = (bytes: string) => rawExchange(port, bytes);

    it('a well-formed id is echoed by the listening server', async () => {
      const reply = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: ok-id\r\nConnection: close\r\n\r\n');
      expect(reply).toMatch(/^HTTP\/1\.1 200 /);
      expect(reply.toLowerCase()).toContain('x-request-id: ok-id\r\n');
    });

    it('a CR header-injection attempt never yields an injected header', async () => {
      const reply = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc\rSet-Cookie: injected=1\r\nConnection: close\r\n\r\n');
      expect(reply).toMatch(/^HTTP\/1\.1 (200|400) /);
      expect(reply.toLowerCase()).not.toContain('injected=1');
    });

    it('an obs-fold continuation line cannot smuggle text into the echoed id', async () => {
      const reply = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: ok\r\n Set-Cookie: injected=1\r\nConnection: close\r\n\r\n');
      expect(reply).toMatch(/^HTTP\/1\.1 (200|400) /);
      expect(reply.toLowerCase()).not.toContain('injected=1');
    });
  });
});
