// Contract "In production" transport rules and TRUST_PROXY: plain-HTTP pages are redirected with
// 308, plain-HTTP API calls are refused (OWASP ASVS 4.1.2), and X-Forwarded-Proto/-For count only
// when the peer is a proxy TRUST_PROXY names. Also which X-Forwarded-For hop is the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/index.js';
import { probeRoutes, testApp, type TestApp } from '../helpers/app.js';
import { rawExchange } from '../helpers/raw-http.js';

const PRODUCTION: Env = { ENVIRONMENT: 'production', ALLOWED_ORIGINS: 'https://app.example.com' };

async function withApp(env: Env, work: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await testApp({ env, routes: probeRoutes() });
  try {
    await work(t);
  } finally {
    await t.close();
  }
}

describe('production without a trusted proxy', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ env: PRODUCTION, routes: probeRoutes() });
  });
  afterAll(() => t.close());

  it('a plain-HTTP GET page request is redirected with 308 to the same path and query over https', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/account/settings?tab=keys&x=%20y', headers: { host: 'gate.example.com' } });
    expect(res.statusCode).toBe(308);
    expect(res.headers.location).toBe('https://gate.example.com/account/settings?tab=keys&x=%20y');
    expect(res.body).toBe('');
  });

  it('a credential in the query is not carried into the https address (it was already sent in clear)', async () => {
    const key = 'gk_abcdefgh_' + 'K'.repeat(43);
    for (const [url, expected] of [
      [`/account?api_key=${key}`, '/account'],
      [`/docs?tab=1&API_KEY=${key}&x=2`, '/docs?tab=1&x=2'],
      [`/reset-password?token=abc123secret`, '/reset-password'],
      // Judged as the log redaction judges: `;` separates pairs too, and a nested sign-in `next` is looked into.
      [`/account?a=1;api_key=${key}`, '/account?a=1'],
      [`/login?next=${encodeURIComponent(`/account?api_key=${key}&tab=2`)}`, `/login?next=${encodeURIComponent('/account?tab=2')}`],
      ['/account?x=%20y&tab=keys', '/account?x=%20y&tab=keys'],
    ] as const) {
      const res = await t.app.inject({ method: 'GET', url, headers: { host: 'gate.example.com' } });
      expect(res.statusCode).toBe(308);
      expect(res.headers.location).toBe(`https://gate.example.com${expected}`);
    }
  });

  it('HEAD is redirected like GET, and the root page too', async () => {
    const head = await t.app.inject({ method: 'HEAD', url: '/', headers: { host: 'gate.example.com:8443' } });
    expect(head.statusCode).toBe(308);
    expect(head.headers.location).toBe('https://gate.example.com:8443/');
  });

  it('a plain-HTTP API request is refused with 400 {"detail":"HTTPS required"}, not redirected', async () => {
    for (const [method, url] of [['GET', '/api/v1/no-such-thing'], ['GET', '/api'], ['GET', '/api/v1/_probe/whoami'], ['DELETE', '/api/v1/x']] as const) {
      const res = await t.app.inject({ method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(400);
      expect(res.json()).toEqual({ detail: 'HTTPS required' });
      expect(res.headers.location).toBeUndefined();
    }
  });

  it('an API path spelled otherwise (percent-escapes, dot segments) is an API request: 400, not a redirect', async () => {
    for (const url of ['/%61pi/v1/_probe/whoami', '/./api/v1/_probe/whoami', '/x/../api/v1/_probe/whoami', '/%2e/api/v1/no-such-thing', '/%61pi']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toEqual({ detail: 'HTTPS required' });
      expect(res.headers.location, url).toBeUndefined();
    }
  });

  it('TRACE is 405 over plain HTTP too, like everywhere', async () => {
    for (const url of ['/', '/login', '/api/v1/users/me']) {
      const res = await t.app.inject({ method: 'TRACE', url });
      expect(res.statusCode, url).toBe(405);
      expect(res.json()).toEqual({ detail: 'Method Not Allowed' });
    }
  });

  it('the refusal comes before the body is read or validated: a leaked credential is not processed', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/_probe/echo', payload: { username: 'alice', password: 'leaked-over-http' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ detail: 'HTTPS required' });
  });

  it('a plain-HTTP form POST to a page is refused, never redirected (a 308 would replay the body)', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/login', payload: 'username=a&password=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  it('X-Forwarded-Proto: https from an untrusted peer is ignored', async () => {
    const api = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', headers: { 'x-forwarded-proto': 'https' } });
    expect(api.statusCode).toBe(400);
    expect(api.json()).toEqual({ detail: 'HTTPS required' });
    const page = await t.app.inject({ method: 'GET', url: '/p', headers: { 'x-forwarded-proto': 'https', host: 'gate.example.com' } });
    expect(page.statusCode).toBe(308);
  });

  it('/healthz and /readyz stay reachable over plain HTTP for load balancer probes', async () => {
    const health = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('a malformed Host header is never turned into a redirect target', async () => {
    for (const host of ['evil.example.net/@gate.example.com', 'gate.example.com@evil.example.net', 'a b']) {
      const res = await t.app.inject({ method: 'GET', url: '/p', headers: { host } });
      expect(res.statusCode, host).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
  });
});

describe('production on a real socket', () => {
  it('an absolute-form or `*` request target is refused, never glued onto the redirect address', async () => {
    await withApp(PRODUCTION, async (t) => {
      const port = Number(new URL(await t.app.listen({ host: '127.0.0.1', port: 0 })).port);
      for (const target of ['http://evil.example.net/login', 'https://evil.example.net/', '*']) {
        const reply = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: gate.example.com\r\nConnection: close\r\n\r\n`);
        expect(reply.split('\r\n')[0], target).toBe('HTTP/1.1 400 Bad Request');
        expect(reply.toLowerCase(), target).not.toContain('location:');
        expect(reply, target).toContain('HTTPS required');
      }
      // The same server still redirects an ordinary page request.
      const page = await rawExchange(port, 'GET /login HTTP/1.1\r\nHost: gate.example.com\r\nConnection: close\r\n\r\n');
      expect(page).toMatch(/^HTTP\/1\.1 308 .*\r\nlocation: https:\/\/gate\.example\.com\/login\r\n/is);
    });
  });
});

describe('production with PUBLIC_URL', () => {
  it('redirects to the configured origin whatever Host says (no Host-header poisoning)', async () => {
    await withApp({ ...PRODUCTION, PUBLIC_URL: 'https://gate.example.com' }, async (t) => {
      const res = await t.app.inject({ method: 'GET', url: '/reset?page=abc', headers: { host: 'evil.example.net' } });
      expect(res.statusCode).toBe(308);
      expect(res.headers.location).toBe('https://gate.example.com/reset?page=abc');
    });
  });
});

describe('TRUST_PROXY decides whose X-Forwarded-Proto counts', () => {
  it('a hop count trusts the peer: X-Forwarded-Proto: https is honoured', async () => {
    await withApp({ ...PRODUCTION, TRUST_PROXY: '1' }, async (t) => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-proto': 'https' } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ scheme: 'https' });
      // The proxy saying "http" is believed too.
      const plain = await t.app.inject({ method: 'GET', url: '/api/v1/x', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-proto': 'http' } });
      expect(plain.statusCode).toBe(400);
      // A proxy that appends: the client's own "https" to the left of the proxy's "http" buys nothing.
      const appended = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-proto': 'https, http' } });
      expect(appended.statusCode).toBe(400);
      expect(appended.json()).toEqual({ detail: 'HTTPS required' });
      const twoHeaders = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-proto': ['https', 'http'] } });
      expect(twoHeaders.statusCode).toBe(400);
      const proxied = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-proto': 'http, https' } });
      expect(proxied.json()).toMatchObject({ scheme: 'https' });
    });
  });

  it('behind two proxies that append, the outer proxy\'s value is the client\'s scheme; a client\'s own value never is', async () => {
    await withApp({ ...PRODUCTION, TRUST_PROXY: '2' }, async (t) => {
      const via = (proto: string | string[], xff = '198.51.100.7, 10.0.0.9') => t.app.inject({
        method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-proto': proto, 'x-forwarded-for': xff },
      });
      // The outer proxy terminated TLS ("https"), the inner one was reached over plain HTTP ("http").
      expect((await via('https, http')).json()).toMatchObject({ scheme: 'https', ip: '198.51.100.7' });
      expect((await via(['https', 'http'])).json()).toMatchObject({ scheme: 'https' });
      // A plain-HTTP client claiming https to the outer proxy: both proxies append "http".
      const forged = await via('https, http, http', '203.0.113.1, 198.51.100.7, 10.0.0.9');
      expect(forged.statusCode).toBe(400);
      expect(forged.json()).toEqual({ detail: 'HTTPS required' });
      // Proxies that overwrite leave one value: the outermost's, passed on.
      expect((await via('https')).json()).toMatchObject({ scheme: 'https' });
      expect((await via('http')).statusCode).toBe(400);
    });
    await withApp({ ...PRODUCTION, TRUST_PROXY: '10.0.0.0/8' }, async (t) => {
      const via = (proto: string, xff: string) => t.app.inject({
        method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-proto': proto, 'x-forwarded-for': xff },
      });
      expect((await via('https, http', '198.51.100.7, 10.0.0.9')).json()).toMatchObject({ scheme: 'https' });
      // The hop before the inner proxy is no proxy of ours: its value is the only one believed.
      expect((await via('https, http', '198.51.100.7')).statusCode).toBe(400);
    });
  });

  it('an htmx request from the plain-http form of the server\'s own address is foreign in production', async () => {
    await withApp({ ...PRODUCTION, TRUST_PROXY: '1', HOST: '127.0.0.1', PORT: '8000' }, async (t) => {
      const post = (origin: string) => t.app.inject({
        method: 'POST', url: '/api/v1/auth/logout', remoteAddress: '10.0.0.5',
        headers: { 'x-forwarded-proto': 'https', host: 'gate.internal:8443', 'hx-request': 'true', origin },
      });
      const plain = await post('http://127.0.0.1:8000');
      expect(plain.statusCode).toBe(403);
      expect(plain.json()).toEqual({ detail: 'Origin not allowed' });
      expect((await post('https://app.example.com')).statusCode).not.toBe(403);
      expect((await post('https://gate.internal:8443')).statusCode).not.toBe(403);
    });
  });

  it('a CIDR trusts only peers inside it', async () => {
    await withApp({ ...PRODUCTION, TRUST_PROXY: '10.0.0.0/8' }, async (t) => {
      const trusted = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '10.20.30.40', headers: { 'x-forwarded-proto': 'https' } });
      expect(trusted.statusCode).toBe(200);
      expect(trusted.json()).toMatchObject({ scheme: 'https' });
      const outsider = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '203.0.113.9', headers: { 'x-forwarded-proto': 'https' } });
      expect(outsider.statusCode).toBe(400);
      expect(outsider.json()).toEqual({ detail: 'HTTPS required' });
      // IPv4-mapped IPv6 is how a dual-stack socket reports the same proxy.
      const mapped = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '::ffff:10.1.1.1', headers: { 'x-forwarded-proto': 'https' } });
      expect(mapped.statusCode).toBe(200);
    });
  });

  it('loopback and IPv6 CIDR lists work the same way', async () => {
    await withApp({ ...PRODUCTION, TRUST_PROXY: 'loopback, fd00::/8' }, async (t) => {
      for (const remoteAddress of ['127.0.0.1', '::1', 'fd12::1']) {
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress, headers: { 'x-forwarded-proto': 'https' } });
        expect(res.statusCode, remoteAddress).toBe(200);
      }
      const other = await t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress: '2001:db8::1', headers: { 'x-forwarded-proto': 'https' } });
      expect(other.statusCode).toBe(400);
    });
  });
});

describe('the client IP', () => {
  const whoami = (t: TestApp, remoteAddress: string, xff?: string) =>
    t.app.inject({ method: 'GET', url: '/api/v1/_probe/whoami', remoteAddress, headers: xff ? { 'x-forwarded-for': xff } : {} }).then((r) => r.json().ip as string);

  it('without TRUST_PROXY a spoofed X-Forwarded-For changes nothing: the socket peer is the client', async () => {
    await withApp({}, async (t) => {
      expect(await whoami(t, '198.51.100.7', '1.2.3.4')).toBe('198.51.100.7');
      expect(await whoami(t, '198.51.100.7', '1.2.3.4, 5.6.7.8')).toBe('198.51.100.7');
      expect(await whoami(t, '::ffff:198.51.100.7')).toBe('198.51.100.7');
    });
  });

  it('TRUST_PROXY=1 takes the hop the proxy appended (the rightmost), not the one the client wrote', async () => {
    await withApp({ TRUST_PROXY: '1' }, async (t) => {
      expect(await whoami(t, '10.0.0.1', '1.2.3.4')).toBe('1.2.3.4');
      // The client prepended a fake address; the proxy appended the real one.
      expect(await whoami(t, '10.0.0.1', '6.6.6.6, 203.0.113.50')).toBe('203.0.113.50');
      expect(await whoami(t, '10.0.0.1')).toBe('10.0.0.1');
    });
  });

  it('TRUST_PROXY=2 walks one hop further', async () => {
    await withApp({ TRUST_PROXY: '2' }, async (t) => {
      expect(await whoami(t, '10.0.0.1', '6.6.6.6, 203.0.113.50, 10.0.0.2')).toBe('203.0.113.50');
    });
  });

  it('a CIDR list skips every trusted proxy and stops at the first untrusted address', async () => {
    await withApp({ TRUST_PROXY: '10.0.0.0/8' }, async (t) => {
      expect(await whoami(t, '10.0.0.1', '6.6.6.6, 203.0.113.50, 10.9.9.9')).toBe('203.0.113.50');
      // A peer outside the list is the client, whatever it claims.
      expect(await whoami(t, '198.51.100.7', '10.0.0.3')).toBe('198.51.100.7');
    });
  });
});
