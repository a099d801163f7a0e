// Changes made twice at once from one state (a double click, two tabs, two admins): exactly one
// wins, and the others are told so — never several "successes" of which only one holds. On
// SQLite and PostgreSQL (where concurrent transactions really interleave), requests sent together.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, bearer, form, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';
import { setupTotp, totpCode } from '../helpers/mfa.js';

const ROUNDS = 5;
const AT_ONCE = 8;

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`changes raced from one state on ${target.name}`, () => {
    let t: TestApp;
    let n = 0;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
    });
    afterAll(() => t?.close());

    /** A new account and a bearer token of it. */
    async function freshUser(label: string): Promise<{ username: string; access_token: string }> {
      const username = `${label}${++n}`;
      await register(t.app, { username });
      return { username, access_token: (await tokenFor(t.app, username)).access_token };
    }

    it('MFA enable sent several times with one code: one 200 with recovery codes that work, the rest 409', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { username, access_token } = await freshUser('twice_mfa');
        const setup = await setupTotp(t.app, access_token);
        const code = totpCode(setup.secret, Date.now());
        const answers = await Promise.all(Array.from({ length: AT_ONCE }, () => t.app.inject({
          method: 'POST', url: '/api/v1/auth/mfa/totp/enable', headers: bearer(access_token), payload: { code },
        })));
        const statuses = answers.map((a) => a.statusCode);
        expect(statuses.filter((s) => s === 200), statuses.join()).toHaveLength(1);
        expect(statuses.filter((s) => s !== 200).every((s) => s === 409), statuses.join()).toBe(true);
        const { recovery_codes } = answers.find((a) => a.statusCode === 200)!.json<{ recovery_codes: string[] }>();
        // The codes the user was shown are the ones in force.
        const signIn = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'password', username, password: PASSWORD, otp: recovery_codes[0]! }) });
        expect(signIn.statusCode, signIn.body).toBe(200);
      }
    });

    it('one TOTP code sent at once to MFA disable and to a sign-in: only one of them takes it', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { username, access_token } = await freshUser('twice_code');
        const setup = await setupTotp(t.app, access_token);
        // Enabled with the previous step's code, so that the current step is still unused.
        const enable = await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/enable', headers: bearer(access_token), payload: { code: totpCode(setup.secret, Date.now() - 30_000) } });
        expect(enable.statusCode, enable.body).toBe(200);
        const code = totpCode(setup.secret, Date.now());
        const [disable, again, signIn] = await Promise.all([
          t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/disable', headers: bearer(access_token), payload: { password: PASSWORD, code } }),
          t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/disable', headers: bearer(access_token), payload: { password: PASSWORD, code } }),
          t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'password', username, password: PASSWORD, otp: code }) }),
        ]);
        const taken = [disable.statusCode === 204, again.statusCode === 204, signIn.statusCode === 200].filter(Boolean);
        expect(taken, `${disable.statusCode} ${again.statusCode} ${signIn.statusCode}`).toHaveLength(1);
      }
    });

    it('two admins demoting each other at once: one of them stays an admin', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const a = await registerAdmin(t.app, `adm_a${++n}`);
        const b = await registerAdmin(t.app, `adm_b${n}`);
        // Only these two are active admins this round.
        for (const other of (await t.app.gatehouse.users.list({ limit: 200, offset: 0 })).users) {
          if (other.role === 'admin' && other.isActive && other.id !== a.id && other.id !== b.id) {
            await t.storage.users.update(other.id, { role: 'user' }, Date.now());
          }
        }
        const [ta, tb] = [(await tokenFor(t.app, a.username)).access_token, (await tokenFor(t.app, b.username)).access_token];
        const [ab, ba] = await Promise.all([
          t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${b.id}`, headers: bearer(ta), payload: { role: 'user' } }),
          t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${a.id}`, headers: bearer(tb), payload: { role: 'user' } }),
        ]);
        expect([ab.statusCode, ba.statusCode].sort(), `${ab.body} ${ba.body}`).toEqual([200, 409]);
        expect(await t.storage.users.countActiveAdmins()).toBe(1);
      }
    });

    it('password change sent several times from one current password: one 204, the rest 403, and the winner\'s password holds', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { username, access_token } = await freshUser('twice_pw');
        const candidates = Array.from({ length: AT_ONCE }, (_, i) => `orchid zebra lantern ${i} quietly`);
        const answers = await Promise.all(candidates.map((next) => t.app.inject({
          method: 'POST', url: '/api/v1/auth/password', headers: bearer(access_token), payload: { current_password: PASSWORD, new_password: next },
        })));
        const statuses = answers.map((a) => a.statusCode);
        expect(statuses.filter((s) => s === 204), statuses.join()).toHaveLength(1);
        expect(statuses.filter((s) => s !== 204).every((s) => s === 403), statuses.join()).toBe(true);
        const winner = candidates[statuses.indexOf(204)]!;
        const signIn = (password: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'password', username, password }) });
        expect((await signIn(winner)).statusCode).toBe(200);
        for (const loser of candidates.filter((c) => c !== winner).slice(0, 2)) expect((await signIn(loser)).statusCode).toBe(401);
      }
    });
  });
}
