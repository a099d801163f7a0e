// How external identities become local users, on SQLite and PostgreSQL: linking by verified email
// only when the issuer is configured for it, never by an unverified one; the admin scope only where
// allowed; deactivation and role changes apply at once; racing first requests make one user.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authApp, bearer, expectInvalidToken, me, register, registerAdmin, type UserJson } from '../helpers/auth.js';
import type { TestApp } from '../helpers/app.js';
import { startBetterAuthPeer, type BetterAuthPeer, type PeerUser } from '../helpers/better-auth-peer.js';
import { databaseTargets } from '../helpers/databases.js';

let peer: BetterAuthPeer;
let n = 0;
beforeAll(async () => {
  peer = await startBetterAuthPeer();
});
afterAll(() => peer.stop());

/** A peer user with a fresh address (the peer is shared by every test of the file). */
async function peerUser(local: string, verified: boolean): Promise<PeerUser> {
  const user = await peer.signUp(`${local}.${++n}@example.com`, local);
  if (verified) await peer.verifyEmail(user);
  return user;
}

for (const target of databaseTargets) {
  // Every test signs up at the peer and here (scrypt, argon2): slow on a loaded machine, not a hang.
  describe.skipIf(!target.available)(`on ${target.name}`, { timeout: 120_000 }, () => {
    const apps: TestApp[] = [];
    afterAll(async () => {
      for (const t of apps) await t.close();
    });
    async function gatehouse(overrides: Record<string, string> = {}): Promise<TestApp> {
      const t = await authApp({
        storage: await target.open(),
        env: {
          EXTERNAL_ISSUERS: 'peer', EXTERNAL_ISSUER_PEER_ISSUER: peer.url, EXTERNAL_ISSUER_PEER_AUDIENCE: peer.audience,
          EXTERNAL_ISSUER_PEER_JWKS_URL: peer.jwksUrl, EXTERNAL_ISSUER_PEER_ALGORITHMS: 'EdDSA',
          EXTERNAL_ISSUERS_TIMEOUT_MS: '8000', // a loaded CI machine must not turn a slow answer into a 503
          ...overrides,
        },
      });
      apps.push(t);
      return t;
    }
    const get = (t: TestApp, url: string, token: string) => t.app.inject({ method: 'GET', url, headers: bearer(token) });

    it('with LINK_BY_EMAIL, a verified email links to the existing user', async () => {
      const t = await gatehouse({ EXTERNAL_ISSUER_PEER_LINK_BY_EMAIL: 'true' });
      const remote = await peerUser('linda', true);
      const local = await register(t.app, { username: 'linda_local', email: remote.email });
      const res = await me(t.app, await peer.accessToken(remote));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<UserJson>()).toEqual(local);
      expect(await t.storage.identities.findUserId(peer.url, remote.id)).toBe(local.id);
    });

    it('with LINK_BY_EMAIL, an unverified email links nothing: a separate user, and the address stays the owner\'s', async () => {
      const t = await gatehouse({ EXTERNAL_ISSUER_PEER_LINK_BY_EMAIL: 'true' });
      const remote = await peerUser('mona', false);
      // The name the new user would get (the email's local part) is taken too: it gets a suffix.
      const wanted = remote.email.split('@')[0]!.replace('.', '_');
      const local = await register(t.app, { username: wanted, email: remote.email });
      const res = await me(t.app, await peer.accessToken(remote));
      expect(res.statusCode, res.body).toBe(200);
      const created = res.json<UserJson>();
      expect(created.id).not.toBe(local.id);
      expect(created.email).toMatch(/@external\.invalid$/);
      expect(created.username).toMatch(new RegExp(`^${wanted}_[0-9a-f]{8}$`));
    });

    it('without LINK_BY_EMAIL, even a verified email links nothing', async () => {
      const t = await gatehouse();
      const remote = await peerUser('nora', true);
      const local = await register(t.app, { username: 'nora_local', email: remote.email });
      const created = (await me(t.app, await peer.accessToken(remote))).json<UserJson>();
      expect(created.id).not.toBe(local.id);
      expect(created.email).toMatch(/@external\.invalid$/);
    });

    it('an admin signed in through the issuer has no admin scope unless ALLOW_ADMIN', async () => {
      for (const allow of [false, true]) {
        const t = await gatehouse({ EXTERNAL_ISSUER_PEER_LINK_BY_EMAIL: 'true', EXTERNAL_ISSUER_PEER_ALLOW_ADMIN: String(allow) });
        const remote = await peerUser('root', true);
        const admin = await registerAdmin(t.app, `root_${allow}`);
        await t.storage.users.update(admin.id, { email: remote.email }, Date.now());
        const token = await peer.accessToken(remote);
        expect((await me(t.app, token)).json<UserJson>()).toMatchObject({ id: admin.id, role: 'admin' });
        const res = await get(t, '/api/v1/admin/users', token);
        expect(res.statusCode, `ALLOW_ADMIN=${allow} ${res.body}`).toBe(allow ? 200 : 403);
      }
    });

    it('deactivation and a role change apply at once to external sign-ins', async () => {
      const t = await gatehouse({ EXTERNAL_ISSUER_PEER_ALLOW_ADMIN: 'true' });
      const remote = await peerUser('otto', true);
      const token = await peer.accessToken(remote);
      const user = (await me(t.app, token)).json<UserJson>();
      expect((await get(t, '/api/v1/admin/users', token)).statusCode).toBe(403);
      await t.storage.users.update(user.id, { role: 'admin' }, Date.now());
      expect((await get(t, '/api/v1/admin/users', token)).statusCode).toBe(200);
      await t.storage.users.update(user.id, { isActive: false }, Date.now());
      expectInvalidToken(await me(t.app, token), 'deactivated');
    });

    it('racing first requests of one identity make exactly one user', async () => {
      const t = await gatehouse();
      const remote = await peerUser('pia', true);
      const token = await peer.accessToken(remote);
      const answers = await Promise.all(Array.from({ length: 8 }, () => me(t.app, token)));
      for (const res of answers) expect(res.statusCode, res.body).toBe(200);
      expect(new Set(answers.map((r) => r.json<UserJson>().id)).size).toBe(1);
      expect((await t.storage.users.list({ limit: 10, offset: 0, q: 'pia' })).total).toBe(1);
    });
  });
}
