// An issuer verified by RFC 7662 introspection: better-auth's opaque session tokens, which only the
// issuer can judge, asked about on every request with our client credentials. A live session works,
// a signed-out one stops working at once, a wrong audience is refused, and an issuer that is down or
// refuses our client gives 503. Gatehouse's own tokens keep working beside it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authApp, bearer, expectInvalidToken, me, register, tokenFor, type UserJson } from '../helpers/auth.js';
import type { TestApp } from '../helpers/app.js';
import { startBetterAuthPeer, type BetterAuthPeer } from '../helpers/better-auth-peer.js';

const CLIENT = { id: 'gatehouse', secret: 'introspection-secret-3f9a1c' };
let peer: BetterAuthPeer;
const apps: TestApp[] = [];

beforeAll(async () => {
  peer = await startBetterAuthPeer({ introspectionClient: CLIENT });
});
afterAll(async () => {
  for (const t of apps) await t.close();
  await peer.stop();
});

async function gatehouse(overrides: Record<string, string> = {}): Promise<TestApp> {
  const t = await authApp({
    env: {
      EXTERNAL_ISSUERS: 'sessions',
      EXTERNAL_ISSUER_SESSIONS_ISSUER: peer.url,
      EXTERNAL_ISSUER_SESSIONS_AUDIENCE: peer.audience,
      EXTERNAL_ISSUER_SESSIONS_INTROSPECTION_URL: peer.introspectionUrl,
      EXTERNAL_ISSUER_SESSIONS_CLIENT_ID: CLIENT.id,
      EXTERNAL_ISSUER_SESSIONS_CLIENT_SECRET: CLIENT.secret,
      EXTERNAL_ISSUER_SESSIONS_OPAQUE_TOKENS: 'true',
      // Generous: a loaded CI machine must not turn a slow answer into a 503.
      EXTERNAL_ISSUERS_TIMEOUT_MS: '8000',
      ...overrides,
    },
  });
  apps.push(t);
  return t;
}

describe('an opaque better-auth session token', () => {
  it('is a local user while the session lives, asked about on every request', async () => {
    const t = await gatehouse();
    const nina = await peer.signUp('nina@example.com', 'Nina');
    const before = peer.introspections();
    const first = await me(t.app, nina.sessionToken);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json<UserJson>()).toMatchObject({ username: 'nina', role: 'user' });
    expect((await me(t.app, nina.sessionToken)).json<UserJson>().id).toBe(first.json<UserJson>().id);
    expect(peer.introspections()).toBe(before + 2);

    await peer.signOut(nina);
    expectInvalidToken(await me(t.app, nina.sessionToken), 'signed-out session');
  });

  it('a made-up opaque token is refused', async () => {
    const t = await gatehouse();
    expectInvalidToken(await me(t.app, 'not-a-session-token-at-all'));
  });

  it('a Gatehouse API key sent as a bearer token is never handed to the issuer', async () => {
    const t = await gatehouse();
    const before = peer.introspections();
    expectInvalidToken(await me(t.app, `gk_abcd1234_${'A'.repeat(43)}`));
    expect(peer.introspections()).toBe(before);
  });

  it('Gatehouse\'s own tokens are still Gatehouse\'s to judge', async () => {
    const t = await gatehouse();
    await register(t.app, { username: 'olga' });
    const before = peer.introspections();
    const { access_token } = await tokenFor(t.app, 'olga');
    expect((await me(t.app, access_token)).json<UserJson>().username).toBe('olga');
    expect(peer.introspections()).toBe(before);
  });

  it('active for another audience: refused', async () => {
    const t = await gatehouse({ EXTERNAL_ISSUER_SESSIONS_AUDIENCE: 'billing-api' });
    const pete = await peer.signUp('pete@example.com');
    expectInvalidToken(await me(t.app, pete.sessionToken));
  });
});

describe('an introspection endpoint that cannot be used', () => {
  it('refusing our client credentials: 503, and the secret never reaches the log', async () => {
    const t = await gatehouse({ EXTERNAL_ISSUER_SESSIONS_CLIENT_SECRET: 'wrong-secret-77ab' });
    const quinn = await peer.signUp('quinn@example.com');
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(quinn.sessionToken) });
    expect(res.statusCode, res.body).toBe(503);
    expect(res.json()).toEqual({ detail: 'Service temporarily unavailable' });
    const logged = JSON.stringify(t.logs);
    expect(logged).toContain('introspection answered 401');
    expect(logged).not.toContain('wrong-secret-77ab');
    expect(logged).not.toContain(quinn.sessionToken);
  });

  it('stopped: 503', async () => {
    const own = await startBetterAuthPeer({ introspectionClient: CLIENT });
    const t = await gatehouse({
      EXTERNAL_ISSUER_SESSIONS_ISSUER: own.url, EXTERNAL_ISSUER_SESSIONS_INTROSPECTION_URL: own.introspectionUrl,
      EXTERNAL_ISSUER_SESSIONS_AUDIENCE: own.audience,
    });
    const rita = await own.signUp('rita@example.com');
    expect((await me(t.app, rita.sessionToken)).statusCode).toBe(200);
    await own.stop();
    const res = await me(t.app, rita.sessionToken);
    expect(res.statusCode, res.body).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });
});
