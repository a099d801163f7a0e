// Contract "Conventions", the error half: 413 over MAX_BODY_BYTES, 415 for the wrong media type,
// FastAPI-shaped 422s (including unknown fields: no mass assignment), the bare 500 with request_id,
// routing errors before the body, and hostile input that must never produce a 5xx.
import { connect, type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors/catalogue.js';
import { probeRoutes, testApp, type ProbeCalls, type TestApp } from '../helpers/app.js';
import { rawExchange } from '../helpers/raw-http.js';

const LEAKS = [/SELECT/i, /SQLITE/i, /syntax error/i, /password_hash/, /\/work\//, /\.ts\b/, /kysely/i, /fastify/i, /node_modules/, /\bat .+:\d+/, /Error:/];

function expectNoLeak(body: string): void {
  for (const leak of LEAKS) expect(body).not.toMatch(leak);
}

const json = (payload: string) => ({ headers: { 'content-type': 'application/json' }, payload });

describe('error responses', () => {
  let t: TestApp;
  const calls: ProbeCalls = { echo: [] };
  beforeAll(async () => {
    t = await testApp({ env: { MAX_BODY_BYTES: '2048' }, routes: probeRoutes(calls) });
  });
  afterAll(() => t.close());

  const echo = (payload: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', payload: payload as string, headers });

  describe('413: bodies over MAX_BODY_BYTES', () => {
    it('a declared length over the limit is refused with {"detail": ...}', async () => {
      const res = await echo({ username: 'alice', password: 'x'.repeat(3000) });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ detail: ERRORS.PAYLOAD_TOO_LARGE.detail });
    });

    it('a chunked body with no length is cut off at the limit too', async () => {
      const chunks = Array.from({ length: 10 }, () => 'a'.repeat(500));
      const res = await t.app.inject({
        method: 'POST', url: '/api/v1/_probe/echo',
        headers: { 'content-type': 'application/json' },
        payload: Readable.from(['{"username":"alice","password":"', ...chunks, '"}']),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ detail: ERRORS.PAYLOAD_TOO_LARGE.detail });
    });

    it('a body just under the limit is read', async () => {
      const res = await echo({ username: 'alice', password: 'x'.repeat(1900) });
      expect(res.statusCode).toBe(200);
    });
  });

  describe('415: the wrong content type on a JSON route', () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonp', 'application/json-seq']) {
      it(type, async () => {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', payload: '{"username":"alice","password":"long enough"}', headers: { 'content-type': type } });
        expect(res.statusCode).toBe(415);
        expect(res.json()).toEqual({ detail: ERRORS.UNSUPPORTED_MEDIA_TYPE.detail });
      });
    }

    it('a body with no content type at all', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', payload: Buffer.from('{"username":"alice","password":"long enough"}') });
      expect(res.statusCode).toBe(415);
    });

    it('a +json media type (RFC 6839) is JSON too; a look-alike is not', async () => {
      for (const type of ['application/merge-patch+json', 'application/vnd.api+json; charset=utf-8', 'Application/Problem+JSON']) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', payload: '{"username":"alice","password":"long enough"}', headers: { 'content-type': type } });
        expect(res.statusCode, type).toBe(200);
        expect(res.json().received.username).toBe('alice');
      }
      for (const type of ['application/jsonx', 'text/json', 'application/+json', 'application/x+jsonp']) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', payload: '{"username":"alice","password":"long enough"}', headers: { 'content-type': type } });
        expect(res.statusCode, type).toBe(415);
      }
    });

    it('application/json with parameters and in any case is JSON', async () => {
      for (const type of ['application/json; charset=utf-8', 'Application/JSON']) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', payload: '{"username":"alice","password":"long enough"}', headers: { 'content-type': type } });
        expect(res.statusCode, type).toBe(200);
      }
    });
  });

  describe('422 in the FastAPI / pydantic v2 shape', () => {
    it('malformed JSON', async () => {
      for (const body of ['{"username":', '{username: "alice"}', "{'a':1}", '{"a":1}}']) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', headers: { 'content-type': 'application/json' }, payload: body });
        expect(res.statusCode, body).toBe(422);
        expect(res.json()).toEqual({ detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] });
      }
    });

    it('no body at all, with or without a JSON content type: "Field required" at the body, as FastAPI says', async () => {
      for (const headers of [{ 'content-type': 'application/json' }, { 'content-type': 'application/json', 'content-length': '0' }, {}]) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', headers });
        expect(res.statusCode, JSON.stringify(headers)).toBe(422);
        expect(res.json(), JSON.stringify(headers)).toEqual({ detail: [{ loc: ['body'], msg: 'Field required', type: 'missing' }] });
      }
      // FastAPI reads a JSON null as no body too.
      const nullBody = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json('null') });
      expect(nullBody.json()).toEqual({ detail: [{ loc: ['body'], msg: 'Field required', type: 'missing' }] });
    });

    it('a route without a body takes a bodiless POST whatever its Content-Type says (fetch wrappers send application/json)', async () => {
      await t.app.gatehouse.users.register({ email: 'nobody-body@example.com', username: 'nobody_body', password: 'correct horse battery staple' });
      for (const type of ['application/json', 'text/plain', undefined]) {
        const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=password&username=nobody_body&password=correct%20horse%20battery%20staple' });
        const { access_token } = login.json<{ access_token: string }>();
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${access_token}`, ...(type ? { 'content-type': type } : {}) } });
        expect(res.statusCode, String(type)).toBe(204);
      }
    });

    it('a missing field', async () => {
      const res = await echo({ username: 'alice' });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({ detail: [{ loc: ['body', 'password'], msg: 'Field required', type: 'missing' }] });
    });

    it('a wrong type', async () => {
      const res = await echo({ username: 'alice', password: 12345678 });
      expect(res.json()).toEqual({ detail: [{ loc: ['body', 'password'], msg: 'Input should be a valid string', type: 'string_type' }] });
    });

    it('a string that is too short', async () => {
      const res = await echo({ username: 'alice', password: 'short' });
      expect(res.json()).toEqual({ detail: [{ loc: ['body', 'password'], msg: 'String should have at least 8 characters', type: 'string_too_short' }] });
    });

    it('a body that is not an object', async () => {
      for (const body of ['[]', '"text"', '42']) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json(body) });
        expect(res.statusCode, body).toBe(422);
        expect(res.json()).toEqual({ detail: [{ loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', type: 'model_attributes_type' }] });
      }
    });

    it('every problem is listed, each with loc, msg and type only', async () => {
      const res = await echo({ username: 7 });
      expect(res.statusCode).toBe(422);
      const detail = res.json().detail as Record<string, unknown>[];
      expect(detail).toEqual(expect.arrayContaining([
        { loc: ['body', 'username'], msg: 'Input should be a valid string', type: 'string_type' },
        { loc: ['body', 'password'], msg: 'Field required', type: 'missing' },
      ]));
      expect(detail).toHaveLength(2);
    });

    it('an unknown field is rejected, never silently dropped or applied (mass assignment)', async () => {
      const before = calls.echo.length;
      const res = await echo({ username: 'alice', password: 'long enough', role: 'admin' });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({ detail: [{ loc: ['body', 'role'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' }] });
      const nested = await echo({ username: 'alice', password: 'long enough', is_active: true, __proto__: { role: 'admin' } });
      expect(nested.statusCode).toBe(422);
      expect(calls.echo.length).toBe(before);
    });

    it('prototype-pollution keys are refused', async () => {
      const before = calls.echo.length;
      for (const body of ['{"username":"alice","password":"long enough","__proto__":{"role":"admin"}}', '{"username":"alice","password":"long enough","constructor":{"prototype":{"role":"admin"}}}']) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json(body) });
        expect(res.statusCode).toBe(422);
      }
      expect(calls.echo.length).toBe(before);
      expect(({} as Record<string, unknown>).role).toBeUndefined();
    });

    it('query strings are validated with their loc and coerced from text', async () => {
      const ok = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/search?limit=5' });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ query: { limit: 5 } });
      const bad = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/search?limit=lots' });
      expect(bad.statusCode).toBe(422);
      // Text that does not parse: pydantic's *_parsing error, as FastAPI answers for a query value.
      expect(bad.json()).toEqual({ detail: [{ loc: ['query', 'limit'], msg: 'Input should be a valid integer, unable to parse string as an integer', type: 'int_parsing' }] });
    });

    it('null for an optional field is the field left out (pydantic\'s `x: str | None = None`); for a required one it is a type error', async () => {
      const optional = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json('{"username":"alice","password":"long enough","full_name":null}') });
      expect(optional.statusCode, optional.body).toBe(200);
      expect(optional.json().received).toEqual({ username: 'alice', password: 'long enough' });
      const required = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json('{"username":null,"password":"long enough"}') });
      expect(required.statusCode).toBe(422);
      expect(required.json()).toEqual({ detail: [{ loc: ['body', 'username'], msg: 'Input should be a valid string', type: 'string_type' }] });
      // Unknown fields stay refused whatever their value.
      const unknown = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json('{"username":"alice","password":"long enough","role":null}') });
      expect(unknown.statusCode).toBe(422);
    });

    it('one issue per field (its first failed constraint, as pydantic stops there), and unknown fields after known ones', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json('{"zz_extra":1,"username":"a","password":"long enough","full_name":5}') });
      expect(res.statusCode).toBe(422);
      const detail = res.json().detail as { loc: unknown[]; type: string }[];
      expect(detail.map((d) => d.loc)).toEqual([['body', 'username'], ['body', 'full_name'], ['body', 'zz_extra']]);
      expect(detail.map((d) => d.type)).toEqual(['string_too_short', 'string_type', 'extra_forbidden']);
    });

    it('a NUL character in a string is a 422, not a database error later', async () => {
      const body = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json('{"username":"ali\\u0000ce","password":"long enough"}') });
      expect(body.statusCode).toBe(422);
      expect(body.json()).toEqual({ detail: [{ loc: ['body', 'username'], msg: 'Value error, NUL characters are not allowed', type: 'value_error' }] });
      const query = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/search?limit=5&q=a%00b' });
      expect(query.statusCode).toBe(422);
      expect(query.json().detail[0].loc).toEqual(['query', 'q']);
    });
  });

  describe('text that would not be stored as sent', () => {
    it('bytes that are not UTF-8 are malformed JSON (422 json_invalid), not silently turned into U+FFFD', async () => {
      const before = calls.echo.length;
      for (const bad of [[0xff, 0xfe], [0xc3], [0xed, 0xa0, 0x80]]) {
        const payload = Buffer.concat([Buffer.from('{"username":"ali'), Buffer.from(bad), Buffer.from('ce","password":"long enough"}')]);
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', headers: { 'content-type': 'application/json' }, payload });
        expect(res.statusCode, JSON.stringify(bad)).toBe(422);
        expect(res.json()).toEqual({ detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] });
      }
      expect(calls.echo.length).toBe(before);
      // Real UTF-8 passes untouched.
      const ok = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', headers: { 'content-type': 'application/json' }, payload: Buffer.from('{"username":"zo\u00eb \ud83d\ude00","password":"long enough"}'.replace(/\\u00eb \\ud83d\\ude00/, 'ë 😀')) });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().received.username).toBe('zoë 😀');
    });

    it('half a character (a lone surrogate escape) is a 422 at its field', async () => {
      const before = calls.echo.length;
      for (const escape of ['\\ud800', '\\udfff', 'x\\ud83d']) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json(`{"username":"alice","password":"long enough","full_name":"${escape}"}`) });
        expect(res.statusCode, escape).toBe(422);
        expect(res.json()).toEqual({ detail: [{ loc: ['body', 'full_name'], msg: 'Value error, text must be valid Unicode (a lone surrogate is not a character)', type: 'value_error' }] });
      }
      expect(calls.echo.length).toBe(before);
      const pair = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json('{"username":"alice","password":"long enough","full_name":"\\ud83d\\ude00"}') });
      expect(pair.json().received.full_name).toBe('😀');
    });

    it('a body in a content coding (gzip, br, anything but identity) is 415: nothing is read as if it were plain', async () => {
      for (const coding of ['gzip', 'br', 'x-made-up', 'GZIP']) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', headers: { 'content-type': 'application/json', 'content-encoding': coding }, payload: '{"username":"alice","password":"long enough"}' });
        expect(res.statusCode, coding).toBe(415);
        expect(res.json()).toEqual({ detail: 'Unsupported Media Type' });
      }
      const identity = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', headers: { 'content-type': 'application/json', 'content-encoding': 'identity' }, payload: '{"username":"alice","password":"long enough"}' });
      expect(identity.statusCode).toBe(200);
    });

    it('a body of many unknown fields gets one 422 of at most 100 issues (a 1 MiB body of them would be megabytes)', async () => {
      // 200 fit in this app's 2 KiB body limit; at the default 1 MiB, 50 000 would.
      const fields = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 1]));
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', ...json(JSON.stringify({ username: 'alice', password: 'long enough', ...fields })) });
      expect(res.statusCode).toBe(422);
      const { detail } = res.json() as { detail: { loc: string[]; type: string }[] };
      expect(detail).toHaveLength(100);
      expect(detail[0]).toMatchObject({ loc: ['body', 'k0'], type: 'extra_forbidden' });
      expect(res.body.length).toBeLessThan(10_000);
    });
  });

  describe('a path parameter longer than any id', () => {
    it('is 404 before authentication, with the contract headers', async () => {
      for (const [method, url] of [['DELETE', `/api/v1/api-keys/${'a'.repeat(250)}`], ['PATCH', `/api/v1/admin/users/${'1'.repeat(250)}`]] as const) {
        const res = await t.app.inject({ method, url, headers: { 'x-request-id': 'long-param-1' } });
        expect(res.statusCode, url.slice(0, 30)).toBe(404);
        expect(res.json()).toEqual({ detail: 'Not Found' });
        expect(res.headers['x-request-id']).toBe('long-param-1');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
    });
  });

  describe('a route matched with an empty path parameter names nothing', () => {
    it('is 404 before authentication, with the contract headers; no method is offered for it', async () => {
      for (const [method, url] of [['DELETE', '/api/v1/auth/sessions/'], ['DELETE', '/api/v1/api-keys/'], ['PATCH', '/api/v1/admin/users/'], ['GET', '/api/v1/api-keys/']] as const) {
        const res = await t.app.inject({ method, url, headers: { 'x-request-id': 'empty-param-1' } });
        expect(res.statusCode, `${method} ${url}`).toBe(404);
        expect(res.json()).toEqual({ detail: 'Not Found' });
        expect(res.headers['x-request-id']).toBe('empty-param-1');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['www-authenticate']).toBeUndefined();
        expect(res.headers.allow).toBeUndefined();
      }
    });
  });

  describe('routing errors come before the body', () => {
    it('a body sent to an unknown path is 404, whatever it holds', async () => {
      for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/json' }]) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/no-such-thing', payload: '{not json', headers });
        expect(res.statusCode).toBe(404);
        expect(res.json()).toEqual({ detail: 'Not Found' });
      }
    });

    it('routing errors come before authentication: no 401 for a path or method that does not exist', async () => {
      const guarded = await t.app.inject({ method: 'GET', url: '/api/v1/users/me' });
      expect(guarded.statusCode).toBe(401);
      const wrongMethod = await t.app.inject({ method: 'PUT', url: '/api/v1/users/me' });
      expect(wrongMethod.statusCode).toBe(405);
      expect(wrongMethod.json()).toEqual({ detail: 'Method Not Allowed' });
      expect(wrongMethod.headers['www-authenticate']).toBeUndefined();
      const unknown = await t.app.inject({ method: 'GET', url: '/api/v1/users/me/secrets', headers: { authorization: 'Bearer not-a-token' } });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json()).toEqual({ detail: 'Not Found' });
    });

    it('a body sent with the wrong method is 405, even when it is too large', async () => {
      const res = await t.app.inject({ method: 'DELETE', url: '/api/v1/_probe/echo', payload: 'x'.repeat(5000), headers: { 'content-type': 'application/json' } });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe('POST');
    });
  });

  describe('500', () => {
    it('says only {"detail":"Internal Server Error","request_id"}, leaks nothing, and is logged', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/boom' });
      expect(res.statusCode).toBe(500);
      const id = res.headers['x-request-id'];
      expect(typeof id).toBe('string');
      expect(res.json()).toEqual({ detail: 'Internal Server Error', request_id: id });
      expectNoLeak(res.body);
      for (const [name, value] of Object.entries(res.headers)) expectNoLeak(`${name}: ${String(value)}`);
      const logged = t.logs.find((l) => l.reqId === id && l.level === 50);
      expect(logged, 'the fault is logged with the request id').toBeDefined();
      expect(JSON.stringify(logged)).toContain('password_hash');
    });

    it('echoes a client-supplied request id, so support can find the log line', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/boom', headers: { 'x-request-id': 'client-trace:42' } });
      expect(res.json()).toEqual({ detail: 'Internal Server Error', request_id: 'client-trace:42' });
    });
  });

  describe('no client input causes a 5xx', () => {
    const hostile: { name: string; url: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; payload?: string }[] = [
      { name: 'bad percent-encoding in the path', url: '/api/v1/%zz' },
      { name: 'an overlong UTF-8 sequence', url: '/api/v1/%c0%ae%c0%ae/etc/passwd' },
      { name: 'an encoded NUL in the path', url: '/healthz%00' },
      { name: 'bad percent-encoding in the query', url: '/api/v1/_probe/search?limit=%zz&q=%' },
      { name: 'an encoded NUL in the query', url: '/healthz?x=%00' },
      { name: 'path traversal', url: '/docs/assets/../../../../etc/passwd' },
      { name: 'a very long path', url: `/${'a'.repeat(8000)}` },
      { name: 'a very long parameter', url: `/api/v1/${'%41'.repeat(3000)}` },
      { name: 'a huge header', url: '/healthz', headers: { 'x-filler': 'a'.repeat(15_000) } },
      { name: 'a junk Accept and Content-Type', url: '/healthz', headers: { accept: '*/*;q=banana', 'content-type': ';;;=' } },
      { name: 'deeply nested JSON', url: '/api/v1/_probe/echo', method: 'POST', headers: { 'content-type': 'application/json' }, payload: '['.repeat(1000) + ']'.repeat(1000) },
      { name: 'deeply nested JSON inside a field', url: '/api/v1/_probe/echo', method: 'POST', headers: { 'content-type': 'application/json' }, payload: `{"username":${'{"a":'.repeat(300)}1${'}'.repeat(300)},"password":"long enough"}` },
      { name: 'a raw NUL in the JSON', url: '/api/v1/_probe/echo', method: 'POST', headers: { 'content-type': 'application/json' }, payload: '{"username":"a\u0000b","password":"long enough"}' },
      { name: 'invalid UTF-8 in the JSON', url: '/api/v1/_probe/echo', method: 'POST', headers: { 'content-type': 'application/json' }, payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]).toString('latin1') },
      { name: 'a lone surrogate', url: '/api/v1/_probe/echo', method: 'POST', headers: { 'content-type': 'application/json' }, payload: '{"username":"\\ud800abc","password":"long enough"}' },
      { name: 'a huge number', url: '/api/v1/_probe/search?limit=1e999999' },
      { name: 'a bad Content-Length', url: '/api/v1/_probe/echo', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 'abc' }, payload: '{}' },
    ];
    for (const h of hostile) {
      it(h.name, async () => {
        const res = await t.app.inject({ method: h.method ?? 'GET', url: h.url, headers: h.headers, payload: h.payload });
        expect(res.statusCode).toBeGreaterThanOrEqual(200);
        expect(res.statusCode).toBeLessThan(500);
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        if (res.statusCode >= 400) {
          expect(typeof res.json().detail === 'string' || Array.isArray(res.json().detail)).toBe(true);
          expectNoLeak(res.body);
        }
      });
    }

    it('over a real socket, headers beyond the server limit get a 431 in the contract shape, not a crash', async () => {
      const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = t.app.server.address() as AddressInfo;
      expect(address).toContain(String(port));
      const reply = await rawExchange(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
      expect(reply).toMatch(/^HTTP\/1\.1 431 /);
      expectNoLeak(reply);
      // Node's parser refused it before any route ran; it still gets our body and headers.
      const [head, body] = reply.split('\r\n\r\n');
      expect(JSON.parse(body!)).toEqual({ detail: ERRORS.HEADERS_TOO_LARGE.detail });
      expect(head!.toLowerCase()).toContain('x-content-type-options: nosniff');
      expect(head!.toLowerCase()).toContain("content-security-policy: default-src 'none'; frame-ancestors 'none'");
      expect(head!.toLowerCase()).toMatch(/x-request-id: [a-z0-9-]{36}/);
      expect(head!.toLowerCase()).toContain('content-type: application/json; charset=utf-8');
      const broken = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab');
      // Conflicting Content-Length headers (request smuggling, RFC 9112 §6.3) are refused outright.
      expect(broken).toMatch(/^HTTP\/1\.1 400 /);
      expect(broken).toContain('{"detail":"Bad Request"}');
      // The process is still serving.
      const after = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(after.status).toBe(200);
    });

    it('over a real socket, CONNECT gets a 405 with every contract header, not a dropped connection', async () => {
      await t.app.listen({ host: '127.0.0.1', port: 0 }).catch(() => undefined);
      const { port } = t.app.server.address() as AddressInfo;
      for (const target of ['127.0.0.1:443', '/api/v1/users/me']) {
        const reply = await rawExchange(port, `CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
        expect(reply, target).toMatch(/^HTTP\/1\.1 405 /);
        const [head, body] = reply.split('\r\n\r\n');
        expect(JSON.parse(body!)).toEqual({ detail: 'Method Not Allowed' });
        expect(head!.toLowerCase()).toContain('x-content-type-options: nosniff');
        expect(head!.toLowerCase()).toMatch(/x-request-id: [a-z0-9-]{36}/);
        // RFC 9110 §15.5.6: a 405 says what is allowed.
        expect(head!.toLowerCase()).toContain('allow: get, head, post, put, patch, delete');
      }
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    });

    it('over a real socket, a request HTTP itself refuses is 400/417 before a route\'s authentication, not a 401', async () => {
      await t.app.listen({ host: '127.0.0.1', port: 0 }).catch(() => undefined);
      const { port } = t.app.server.address() as AddressInfo;
      for (const [raw, status] of [
        ['GET /api/v1/users/me HTTP/1.1\r\nConnection: close\r\n\r\n', 400],
        ['POST /api/v1/auth/logout HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 400],
        ['GET /api/v1/users/me HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nConnection: close\r\n\r\n', 417],
        ['GET /api/v1/admin/users/1 HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nConnection: close\r\n\r\n', 417],
      ] as const) {
        const reply = await rawExchange(port, raw);
        expect(reply, raw).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
        expect(reply.toLowerCase()).toContain('x-content-type-options: nosniff');
      }
    });

    it('over a real socket, a missing or repeated Host (HTTP/1.1) and an unknown Expect get our 400 and 417 with every contract header', async () => {
      await t.app.listen({ host: '127.0.0.1', port: 0 }).catch(() => undefined); // listening already, from the test above, when it ran
      const { port } = t.app.server.address() as AddressInfo;
      const exchange = (raw: string) => rawExchange(port, raw);
      for (const [raw, status, detail] of [
        ['GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', 400, ERRORS.MISSING_HOST.detail],
        ['GET /healthz HTTP/1.1\r\nHost: a.example\r\nhost: b.example\r\nConnection: close\r\n\r\n', 400, ERRORS.DUPLICATE_HOST.detail],
        ['GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nConnection: close\r\n\r\n', 417, ERRORS.EXPECTATION_FAILED.detail],
      ] as const) {
        const reply = await exchange(raw);
        expect(reply, raw).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
        const [head, body] = reply.split('\r\n\r\n');
        expect(JSON.parse(body!)).toEqual({ detail });
        const lower = head!.toLowerCase();
        for (const header of ['x-content-type-options: nosniff', 'x-frame-options: deny', "content-security-policy: default-src 'none'; frame-ancestors 'none'", 'content-type: application/json; charset=utf-8']) {
          expect(lower, `${status}: ${header}`).toContain(header);
        }
        expect(lower).toMatch(/x-request-id: [a-z0-9-]{36}/);
      }
      // HTTP/1.0 needs no Host, and 100-continue still works.
      expect(await exchange('GET /healthz HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
      const continued = await exchange('POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
      expect(continued).toMatch(/^HTTP\/1\.1 100 Continue/);
      expect(continued).toContain('HTTP/1.1 422 ');
    });

    it('a client that hangs up mid-body is logged as that, never as a database outage', async () => {
      await t.app.listen({ host: '127.0.0.1', port: 0 }).catch(() => undefined);
      const { port } = t.app.server.address() as AddressInfo;
      const id = `abort-probe-${Date.now()}`;
      await new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(`POST /api/v1/_probe/echo HTTP/1.1\r\nHost: x\r\nX-Request-ID: ${id}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"username":"ali`);
          setImmediate(() => socket.destroy());
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      const deadline = Date.now() + 5000;
      while (!t.logs.some((l) => l.reqId === id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const lines = t.logs.filter((l) => l.reqId === id);
      expect(lines.map((l) => l.msg)).toEqual(['request aborted by the client']);
      expect(lines[0]!.level).toBe(30);
      expect(calls.echo).not.toContainEqual(expect.objectContaining({ username: 'ali' }));
    });
  });
});
