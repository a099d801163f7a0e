// Federation with a real better-auth server as the external issuer (its jwt plugin, its JWKS):
// Gatehouse accepts its access tokens on protected routes as a local user, follows its key rotation,
// rejects its old key once the key set no longer has it, rejects a wrong audience, and answers 503
// (not a hang, not an accept) when the issuer cannot be reached. The clock is fake; nothing sleeps.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { authApp, bearer, expectInvalidToken, login, me, type UserJson } from '../helpers/auth.js';
import type { TestApp } from '../helpers/app.js';
import { startBetterAuthPeer, type BetterAuthPeer } from '../helpers/better-auth-peer.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const CACHE_SECONDS = 300;
/** The default least time between two fetches prompted by unknown kids. */
const COOLDOWN_SECONDS = 30;
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

async function peer(): Promise<BetterAuthPeer> {
  const started = await startBetterAuthPeer();
  open.push({ close: () => started.stop() });
  return started;
}

function issuerEnv(p: BetterAuthPeer, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    EXTERNAL_ISSUERS: 'peer',
    EXTERNAL_ISSUER_PEER_ISSUER: p.url,
    EXTERNAL_ISSUER_PEER_AUDIENCE: p.audience,
    EXTERNAL_ISSUER_PEER_JWKS_URL: p.jwksUrl,
    EXTERNAL_ISSUER_PEER_ALGORITHMS: 'EdDSA',
    EXTERNAL_ISSUERS_JWKS_CACHE_SECONDS: String(CACHE_SECONDS),
    // Generous: a loaded CI machine must not turn a slow answer into a 503 (the black-hole test sets its own).
    EXTERNAL_ISSUERS_TIMEOUT_MS: '8000',
    ...overrides,
  };
}

async function gatehouse(env: Record<string, string>, clock = new FakeClock(Date.now())): Promise<TestApp & { clock: FakeClock }> {
  const t = await authApp({ env, clock });
  open.push(t);
  return Object.assign(t, { clock });
}

function expectUnavailable(res: { statusCode: number; body: string; headers: Record<string, unknown> }): void {
  expect(res.statusCode, res.body).toBe(503);
  expect(JSON.parse(res.body)).toEqual({ detail: 'Service temporarily unavailable' });
  expect(res.headers['retry-after']).toBe('5');
}

describe('a better-auth access token on a protected route', () => {
  it('is a local user, created on first use with the default role and linked by sub', async () => {
    const p = await peer();
    const t = await gatehouse(issuerEnv(p));
    const alice = await p.signUp('alice@example.com', 'Alice Liddell');
    const token = await p.accessToken(alice);

    const first = await me(t.app, token);
    expect(first.statusCode, first.body).toBe(200);
    const user = first.json<UserJson>();
    expect(user).toMatchObject({ username: 'alice', full_name: 'Alice Liddell', role: 'user', is_active: true, mfa_enabled: false });
    // better-auth has not verified this address: it is not taken over, and no mail can go to it.
    expect(user.email).toMatch(/^peer-[0-9a-f]{24}@external\.invalid$/);
    expect(await t.storage.identities.findUserId(p.url, alice.id)).toBe(user.id);

    const again = await me(t.app, await p.accessToken(alice));
    expect(again.json<UserJson>().id).toBe(user.id);
    const { total } = await t.storage.users.list({ limit: 10, offset: 0 });
    expect(total).toBe(1);
  });

  it('uses the email the issuer verified', async () => {
    const p = await peer();
    const t = await gatehouse(issuerEnv(p));
    const bob = await p.signUp('bob@example.com', 'Bob');
    await p.verifyEmail(bob);
    const res = await me(t.app, await p.accessToken(bob));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<UserJson>()).toMatchObject({ email: 'bob@example.com', username: 'bob' });
  });

  it('never lets the created user sign in with a password', async () => {
    const p = await peer();
    const t = await gatehouse(issuerEnv(p));
    const carol = await p.signUp('carol@example.com');
    await p.verifyEmail(carol);
    expect((await me(t.app, await p.accessToken(carol))).statusCode).toBe(200);
    const stored = (await t.storage.users.findByLogin('carol'))!;
    expect(stored.passwordHash.startsWith('!external:')).toBe(true);
    for (const password of ['', stored.passwordHash, 'correct horse battery staple']) {
      const res = await login(t.app, 'carol', password);
      // An empty password is no password at all (422, as FastAPI reads forms); the others are wrong.
      expect(res.statusCode, res.body).toBe(password === '' ? 422 : 401);
      expect(await t.app.gatehouse.hasher.verify(stored.passwordHash, password)).toEqual({ ok: false, needsRehash: false });
    }
  });
});

describe('the issuer changes its key', () => {
  it('old tokens are refused once the key set is fetched again without their key', async () => {
    const p = await peer();
    const t = await gatehouse(issuerEnv(p));
    const dave = await p.signUp('dave@example.com');
    const old = await p.accessToken(dave);
    expect((await me(t.app, old)).statusCode).toBe(200);

    await p.replaceKeys();
    // Within the cache age the old key is still trusted; past it, the set is fetched again.
    t.clock.advance(CACHE_SECONDS * 1000);
    expectInvalidToken(await me(t.app, old), 'token of a withdrawn key');
    expect((await me(t.app, await p.accessToken(dave))).statusCode).toBe(200);
  });

  it('a token of a newly rotated-in key is accepted (one refetch per cooldown), and the old key is gone from then on', async () => {
    const p = await peer();
    const t = await gatehouse(issuerEnv(p));
    const erin = await p.signUp('erin@example.com');
    const old = await p.accessToken(erin);
    expect((await me(t.app, old)).statusCode).toBe(200);
    const fetches = p.jwksFetches();

    await p.replaceKeys();
    const fresh = await p.accessToken(erin);
    // Unknown kid: one fetch of the key set (at most one per cooldown), then the new key verifies.
    t.clock.advance(COOLDOWN_SECONDS * 1000);
    expect((await me(t.app, fresh)).statusCode).toBe(200);
    expect(p.jwksFetches()).toBe(fetches + 1);
    expectInvalidToken(await me(t.app, old), 'token of the replaced key');
  });
});

describe('tokens the issuer did not mean for us', () => {
  it('a wrong audience is refused', async () => {
    const p = await peer();
    const t = await gatehouse(issuerEnv(p));
    const frank = await p.signUp('frank@example.com');
    const good = await p.accessToken(frank);
    expect((await me(t.app, good)).statusCode).toBe(200);
    for (const aud of ['some-other-api', ['some-other-api', 'another']]) {
      const token = await p.sign({ sub: frank.id, aud, email: frank.email });
      expectInvalidToken(await me(t.app, token), `aud ${JSON.stringify(aud)}`);
    }
    // Gatehouse's audience in a peer token does not make it one of Gatehouse's tokens either.
    expectInvalidToken(await me(t.app, await p.sign({ sub: frank.id, aud: 'gatehouse' })), 'aud gatehouse');
  });

  it('a Gatehouse configured for another audience refuses the peer\'s real tokens', async () => {
    const p = await peer();
    const t = await gatehouse(issuerEnv(p, { EXTERNAL_ISSUER_PEER_AUDIENCE: 'billing-api' }));
    const gina = await p.signUp('gina@example.com');
    expectInvalidToken(await me(t.app, await p.accessToken(gina)));
  });

  it('an issuer that is not configured gets 401, and its key set is never fetched', async () => {
    const trusted = await peer();
    const stranger = await peer();
    const t = await gatehouse(issuerEnv(trusted));
    const hank = await stranger.signUp('hank@example.com');
    expectInvalidToken(await me(t.app, await stranger.accessToken(hank)));
    expect(stranger.jwksFetches()).toBe(0);
  });

  it('an expired token is refused', async () => {
    const p = await peer();
    const t = await gatehouse(issuerEnv(p));
    const ivy = await p.signUp('ivy@example.com');
    const token = await p.accessToken(ivy);
    expect((await me(t.app, token)).statusCode).toBe(200);
    t.clock.advance(16 * 60_000);
    expectInvalidToken(await me(t.app, token));
  });
});

describe('an issuer that cannot be reached', () => {
  it('stopped: its tokens get 503 once keys must be fetched, never an accept', async () => {
    const p = await peer();
    const t = await gatehouse(issuerEnv(p));
    const jack = await p.signUp('jack@example.com');
    const token = await p.accessToken(jack);
    expect((await me(t.app, token)).statusCode).toBe(200);
    await p.replaceKeys();
    const rotated = await p.accessToken(jack);

    await p.stop();
    // A kid not in the cache must be looked up (past the cooldown): the issuer is gone, so 503.
    t.clock.advance(COOLDOWN_SECONDS * 1000);
    expectUnavailable(await me(t.app, rotated));
    // Keys fetched within the cache age still verify (that is what the cache is for); past it they are
    // not stretched: the set must be fetched again, and cannot be.
    expect((await me(t.app, token)).statusCode).toBe(200);
    t.clock.advance((CACHE_SECONDS - COOLDOWN_SECONDS) * 1000);
    expectUnavailable(await me(t.app, token));
    // Gatehouse's own tokens and routes do not depend on the issuer.
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('black-holed (accepts connections, never answers): 503 after the configured timeout', async () => {
    const p = await peer();
    const proxy: TcpProxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(p.url).port) });
    open.push(proxy);
    const t = await gatehouse(issuerEnv(p, { EXTERNAL_ISSUER_PEER_JWKS_URL: proxy.rewrite(p.jwksUrl), EXTERNAL_ISSUERS_TIMEOUT_MS: '1500' }));
    const kate = await p.signUp('kate@example.com');
    const token = await p.accessToken(kate);
    await proxy.cut('blackhole');
    expectUnavailable(await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(token) }));
    // Recovery: the issuer answers again, and past the brief failure back-off the token works.
    await proxy.restore();
    t.clock.advance(1000);
    expect((await me(t.app, token)).statusCode).toBe(200);
  });
});
