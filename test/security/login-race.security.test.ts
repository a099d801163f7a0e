// A sign-in that proved the old password while the password was being changed, reset, or the account
// switched off must not come out with a live session: "every other session ends" (password change),
// "all sessions end" (reset) and deactivation would otherwise miss the one written just after them.
// The interleaving is forced, not hoped for: the real argon2id hasher, with a gate that holds one
// chosen verification after it has succeeded, until the change has gone through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher, type PasswordHasher } from '../../src/crypto/passwords.js';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, bearer, form, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

/** The real hasher; `holdNext(password)` pauses the next successful verify of that password until released. */
function gatedHasher(): PasswordHasher & { holdNext(password: string): { verified: Promise<void>; release(): void } } {
  const real = createPasswordHasher();
  let gate: { password: string; verified: () => void; released: Promise<void> } | undefined;
  return {
    hash: (password) => real.hash(password),
    verifyDummy: (password) => real.verifyDummy(password),
    equalizeFailure: (startedAt) => real.equalizeFailure(startedAt),
    async verify(stored, password) {
      const result = await real.verify(stored, password);
      if (gate && result.ok && gate.password === password) {
        const held = gate;
        gate = undefined;
        held.verified();
        await held.released;
      }
      return result;
    },
    holdNext(password) {
      let verified!: () => void;
      let release!: () => void;
      const seen = new Promise<void>((resolve) => { verified = resolve; });
      const released = new Promise<void>((resolve) => { release = resolve; });
      gate = { password, verified, released };
      return { verified: seen, release };
    },
  };
}

const NEW_PASSWORD = 'an entirely new passphrase';

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`a sign-in racing a credential change on ${target.name}`, () => {
    const hasher = gatedHasher();
    let t: TestApp;
    let n = 0;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open(), services: { hasher } });
      await registerAdmin(t.app, 'race_admin');
    });
    afterAll(() => t?.close());

    const signIn = (username: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'password', username, password: PASSWORD }) });

    /** Starts a sign-in with the old password, holds it after its verify, runs `change`, then lets it finish. */
    async function racedSignIn(username: string, change: () => Promise<void>) {
      const held = hasher.holdNext(PASSWORD);
      const pending = signIn(username);
      await held.verified;
      await change();
      held.release();
      return pending;
    }

    /** `survivors`: sessions the change itself keeps (a password change keeps the caller's own). */
    async function expectNoLiveSessionFromTheRace(username: string, password: string, raced: Awaited<ReturnType<typeof signIn>>, status: number, survivors = 0) {
      expect(raced.statusCode).toBe(status);
      expect(raced.json()).not.toHaveProperty('access_token');
      expect(raced.json()).not.toHaveProperty('refresh_token');
      // Whatever sessions the account has now are only ones made after the change, with its new credentials.
      if (password) {
        const fresh = await tokenFor(t.app, username, password);
        const sessions = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(fresh.access_token) });
        expect(sessions.json()).toHaveLength(1 + survivors);
      }
    }

    it('password change: the sign-in with the old password is refused and leaves no session behind', async () => {
      const username = `racer${++n}`;
      await register(t.app, { username });
      const own = await tokenFor(t.app, username);
      const raced = await racedSignIn(username, async () => {
        const changed = await t.app.inject({
          method: 'POST', url: '/api/v1/auth/password', headers: bearer(own.access_token),
          payload: { current_password: PASSWORD, new_password: NEW_PASSWORD },
        });
        expect(changed.statusCode).toBe(204);
      });
      await expectNoLiveSessionFromTheRace(username, NEW_PASSWORD, raced, 401, 1);
      expect(raced.json()).toEqual({ detail: 'Incorrect username or password' });
      // The caller's own session survives its change, as the contract says ("every other session ends").
      const list = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(own.access_token) });
      expect(list.statusCode).toBe(200);
    });

    it('password reset: the sign-in with the old password is refused and leaves no session behind', async () => {
      const username = `racer${++n}`;
      const user = await register(t.app, { username });
      const raced = await racedSignIn(username, async () => {
        // The reset's effect on the account, as confirm applies it (the mail round trip is tested elsewhere).
        const passwordHash = await hasher.hash(NEW_PASSWORD);
        await t.app.gatehouse.storage.users.update(user.id, { passwordHash }, Date.now());
        await (await t.app.gatehouse.sessions.endAllSessions(t.app.gatehouse.storage, user.id, 'password_reset'))();
      });
      await expectNoLiveSessionFromTheRace(username, NEW_PASSWORD, raced, 401);
    });

    it('deactivation: the sign-in is refused as inactive and leaves no session behind', async () => {
      const username = `racer${++n}`;
      const user = await register(t.app, { username });
      const admin = await tokenFor(t.app, 'race_admin');
      const raced = await racedSignIn(username, async () => {
        const off = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${user.id}`, headers: bearer(admin.access_token), payload: { is_active: false } });
        expect(off.statusCode).toBe(200);
      });
      await expectNoLiveSessionFromTheRace(username, '', raced, 403);
      const on = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${user.id}`, headers: bearer(admin.access_token), payload: { is_active: true } });
      expect(on.statusCode).toBe(200);
      const fresh = await tokenFor(t.app, username);
      const sessions = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(fresh.access_token) });
      expect(sessions.json()).toHaveLength(1);
    });

    it('two first sign-ins of a bcrypt-imported account: the one that verified first and upgrades second keeps its session, and so does the other', async () => {
      // passlib's documented example: bcrypt (cost 12) of "secret".
      const imported = await t.storage.users.create({
        username: `legacy${++n}`, email: `legacy${n}@example.com`, fullName: null, role: 'user',
        passwordHash: '$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW',
      }, Date.now());
      const legacySignIn = () => t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'password', username: imported.username, password: 'secret' }) });
      const held = hasher.holdNext('secret');
      const first = legacySignIn();
      await held.verified;
      // The second sign-in runs to its end meanwhile, upgrading the hash to argon2id.
      const second = await legacySignIn();
      expect(second.statusCode, second.body).toBe(200);
      const upgraded = (await t.storage.users.findById(imported.id))!.passwordHash;
      expect(upgraded).toMatch(/^\$argon2id\$/);
      held.release();
      const raced = await first;
      expect(raced.statusCode, raced.body).toBe(200);
      // Neither upgrade undid the other's session: both tokens and both refresh tokens work.
      for (const res of [raced, second]) {
        const { access_token, refresh_token } = res.json() as { access_token: string; refresh_token: string };
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(access_token) })).statusCode).toBe(200);
        const refreshed = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token } });
        expect(refreshed.statusCode, refreshed.body).toBe(200);
      }
      expect((await t.storage.users.findById(imported.id))!.passwordHash).toBe(upgraded);
    });

    it('a role change in between: the sign-in succeeds with a token of the role now in force', async () => {
      const username = `racer${++n}`;
      const user = await register(t.app, { username });
      const admin = await tokenFor(t.app, 'race_admin');
      const raced = await racedSignIn(username, async () => {
        const promoted = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${user.id}`, headers: bearer(admin.access_token), payload: { role: 'admin' } });
        expect(promoted.statusCode).toBe(200);
      });
      expect(raced.statusCode).toBe(200);
      const { access_token } = raced.json() as { access_token: string };
      const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(access_token) });
      expect(me.statusCode).toBe(200);
      expect(me.json()).toMatchObject({ role: 'admin' });
    });
  });
}
