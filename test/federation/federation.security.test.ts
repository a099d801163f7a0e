// Attacks on external-token verification, against a real better-auth issuer: keys named by the token
// itself (jku, jwk, x5u, x5c), `alg: none`, algorithm confusion, an algorithm the issuer is not pinned
// to, a flood of made-up key ids, and an issuer that misbehaves (errors, junk, huge bodies, redirects).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { authApp, decodeJwt, expectInvalidToken, me } from '../helpers/auth.js';
import type { TestApp } from '../helpers/app.js';
import { startBetterAuthPeer, type BetterAuthPeer, type PeerUser } from '../helpers/better-auth-peer.js';

interface Site {
  readonly url: string;
  hits: number;
  close(): Promise<void>;
}

/** A loopback HTTP server that answers with `handler` and counts what it is asked. */
async function site(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Site> {
  const server: Server = createServer((req, res) => {
    result.hits++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const result: Site = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return result;
}

function env(p: BetterAuthPeer, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    EXTERNAL_ISSUERS: 'peer', EXTERNAL_ISSUER_PEER_ISSUER: p.url, EXTERNAL_ISSUER_PEER_AUDIENCE: p.audience,
    EXTERNAL_ISSUER_PEER_JWKS_URL: p.jwksUrl, EXTERNAL_ISSUER_PEER_ALGORITHMS: 'EdDSA',
    // Generous: on a loaded CI machine a slow answer must not turn into a 503.
    EXTERNAL_ISSUERS_TIMEOUT_MS: '8000',
    ...overrides,
  };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let peer: BetterAuthPeer;
let user: PeerUser;
let realToken: string;
let realKid: string;
const closers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  peer = await startBetterAuthPeer();
  user = await peer.signUp('mallory-target@example.com');
  realToken = await peer.accessToken(user);
  realKid = String(decodeJwt(realToken).header.kid);
});
afterAll(async () => {
  for (const c of closers.reverse()) await c.close();
  await peer.stop();
});

async function gatehouse(overrides: Record<string, string> = {}, clock = new FakeClock(Date.now())): Promise<TestApp> {
  const t = await authApp({ env: env(peer, overrides), clock });
  closers.push(t);
  return t;
}

describe('keys come only from configuration', () => {
  it('a token carrying its own key (jwk), or pointing at one (jku, x5u, x5c), is refused and the pointer never followed', async () => {
    const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const publicJwk = { ...(await exportJWK(attacker.publicKey)), kid: realKid, alg: 'EdDSA' };
    const evil = await site((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] })));
    closers.push(evil);
    const t = await gatehouse();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: peer.url, aud: peer.audience, sub: user.id, iat: now, exp: now + 600 };
    const headers = [
      { alg: 'EdDSA', kid: realKid, jwk: publicJwk },
      { alg: 'EdDSA', kid: 'evil-kid', jwk: publicJwk },
      { alg: 'EdDSA', kid: realKid, jku: `${evil.url}/jwks.json` },
      { alg: 'EdDSA', kid: 'evil-kid', jku: `${evil.url}/jwks.json` },
      { alg: 'EdDSA', kid: realKid, x5u: `${evil.url}/cert.pem` },
      { alg: 'EdDSA', kid: realKid, x5c: ['MIIBszCCAVmgAwIBAgIUEvil'] },
    ];
    for (const header of headers) {
      const token = await new SignJWT(claims).setProtectedHeader(header as never).sign(attacker.privateKey);
      expectInvalidToken(await me(t.app, token), JSON.stringify(Object.keys(header)));
    }
    expect(evil.hits).toBe(0);
    // The same claims signed by the issuer's real key are fine: it was the key that was refused.
    expect((await me(t.app, await peer.sign(claims))).statusCode).toBe(200);
  });

  it('alg none and HMAC with the issuer\'s public key (algorithm confusion) are refused', async () => {
    const t = await gatehouse();
    const now = Math.floor(Date.now() / 1000);
    const payload = b64({ iss: peer.url, aud: peer.audience, sub: user.id, iat: now, exp: now + 600 });
    expectInvalidToken(await me(t.app, `${b64({ alg: 'none', kid: realKid })}.${payload}.`), 'none');
    const jwks = (await (await fetch(peer.jwksUrl)).json()) as { keys: { x: string }[] };
    const head = b64({ alg: 'HS256', kid: realKid });
    for (const secret of [Buffer.from(jwks.keys[0]!.x, 'base64url'), Buffer.from(JSON.stringify(jwks.keys[0]))]) {
      const signature = createHmac('sha256', secret).update(`${head}.${payload}`).digest('base64url');
      expectInvalidToken(await me(t.app, `${head}.${payload}.${signature}`), 'HS256');
    }
  });

  it('a real token in an algorithm the issuer is not pinned to is refused before any key is fetched', async () => {
    const before = peer.jwksFetches();
    const t = await gatehouse({ EXTERNAL_ISSUER_PEER_ALGORITHMS: 'ES256,RS256' });
    expectInvalidToken(await me(t.app, realToken));
    expect(peer.jwksFetches()).toBe(before);
  });
});

describe('made-up key ids', () => {
  it('fetch the key set at most once per cooldown, however many arrive', async () => {
    const clock = new FakeClock(Date.now());
    const t = await gatehouse({ EXTERNAL_ISSUERS_JWKS_COOLDOWN_SECONDS: '30' }, clock);
    expect((await me(t.app, realToken)).statusCode).toBe(200);
    const [head, payload, signature] = realToken.split('.') as [string, string, string];
    const withKid = (kid: string) => `${b64({ ...JSON.parse(Buffer.from(head, 'base64url').toString()), kid })}.${payload}.${signature}`;

    const before = peer.jwksFetches();
    for (let i = 0; i < 20; i++) expectInvalidToken(await me(t.app, withKid(randomBytes(8).toString('hex'))));
    expect(peer.jwksFetches()).toBe(before);
    clock.advance(30_000);
    await Promise.all(Array.from({ length: 20 }, async () => expectInvalidToken(await me(t.app, withKid(randomBytes(8).toString('hex'))))));
    expect(peer.jwksFetches()).toBe(before + 1);
    // The real token is unaffected throughout.
    expect((await me(t.app, realToken)).statusCode).toBe(200);
  });
});

describe('an issuer that misbehaves is unavailable (503), never trusted', () => {
  const answers: Record<string, (res: ServerResponse) => void> = {
    'a 500': (res) => res.writeHead(500).end('oops'),
    'a 404': (res) => res.writeHead(404).end(),
    'not JSON': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('<html>'),
    'JSON without keys': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": 5}'),
    'a body over 256 KiB': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"keys":[],"pad":"${'x'.repeat(300 * 1024)}"}`),
    'a redirect to the real key set': (res) => res.writeHead(302, { location: peer.jwksUrl }).end(),
  };
  for (const [what, answer] of Object.entries(answers)) {
    it(what, async () => {
      const broken = await site((_req, res) => answer(res));
      closers.push(broken);
      const t = await gatehouse({ EXTERNAL_ISSUER_PEER_JWKS_URL: `${broken.url}/jwks` });
      const res = await me(t.app, realToken);
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toEqual({ detail: 'Service temporarily unavailable' });
      expect(broken.hits).toBe(1);
    });
  }
});
