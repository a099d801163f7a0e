// Attacks on TOTP sign-in: a replayed code (same step twice, or two racing requests), the previous
// step accepted once (also after the current one) and the next one never, a spent recovery code, wrong or missing codes (401
// mfa_required, no tokens, counted toward the lockout), the password checked before the code, and
// secrets that are never stored in clear.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { createPasswordHasher } from '../../src/crypto/passwords.js';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, bearer, login, register, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';
import { TOTP_STEP_MS, enableTotp, setupTotp, stepCode, totpCode } from '../helpers/mfa.js';

const MFA_REQUIRED = { detail: 'A valid two-factor code is required', error: 'mfa_required' };
const BAD_LOGIN = { detail: 'Incorrect username or password' };

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`TOTP attacks on ${target.name}`, () => {
    let t: TestApp;
    const clock = new FakeClock(Date.UTC(2026, 3, 1, 8, 0, 0));
    let secret: string;
    let recoveryCodes: string[];
    let userId: number;
    beforeAll(async () => {
      // A fixed waiting line: the races below must meet the compare-and-set, not load shedding on a busy machine.
      t = await authApp({ clock, storage: await target.open(), services: { hasher: createPasswordHasher({ maxQueue: 16 }) } });
      userId = (await register(t.app, { username: 'target' })).id;
      ({ secret, recovery_codes: recoveryCodes } = await enableTotp(t.app, (await tokenFor(t.app, 'target')).access_token, clock));
    });
    afterAll(() => t?.close());

    /** Moves to a step no test has used yet (and 10 s into it). */
    const freshStep = () => clock.advance(5 * TOTP_STEP_MS);
    const otpLogin = (otp: string, password = PASSWORD) => login(t.app, 'target', password, { otp });
    const expectMfaRequired = (res: Awaited<ReturnType<typeof login>>) => {
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json()).toEqual(MFA_REQUIRED);
      expect(res.body).not.toMatch(/access_token|refresh_token/);
    };

    it('a replayed code (same step twice) is refused the second time', async () => {
      freshStep();
      const code = totpCode(secret, clock.now());
      expect((await otpLogin(code)).statusCode).toBe(200);
      expectMfaRequired(await otpLogin(code));
      // Later in the same step, still the same code: still refused.
      clock.advance(15_000);
      expectMfaRequired(await otpLogin(code));
    });

    it('the code that enabled MFA is used up: it cannot also sign in (each step only once)', async () => {
      freshStep();
      await register(t.app, { username: 'enabler' });
      const { secret: own } = await enableTotp(t.app, (await tokenFor(t.app, 'enabler')).access_token, clock);
      const enablingCode = totpCode(own, clock.now());
      expectMfaRequired(await login(t.app, 'enabler', PASSWORD, { otp: enablingCode }));
      // The step before the enabling one was never used: it signs in, once.
      expect((await login(t.app, 'enabler', PASSWORD, { otp: stepCode(own, clock.now(), -1) })).statusCode).toBe(200);
      expectMfaRequired(await login(t.app, 'enabler', PASSWORD, { otp: stepCode(own, clock.now(), -1) }));
      clock.advance(TOTP_STEP_MS);
      expect((await login(t.app, 'enabler', PASSWORD, { otp: totpCode(own, clock.now()) })).statusCode).toBe(200);
    });

    it('two requests racing with one code: exactly one gets tokens', async () => {
      freshStep();
      const code = totpCode(secret, clock.now());
      const answers = await Promise.all([otpLogin(code), otpLogin(code), otpLogin(code)]);
      expect(answers.map((r) => r.statusCode).sort(), answers.map((r) => r.body).join('\n')).toEqual([200, 401, 401]);
    });

    it('the previous step\'s code is accepted once; the next step\'s and older ones never', async () => {
      freshStep();
      const now = clock.now();
      expectMfaRequired(await otpLogin(stepCode(secret, now, 1)));
      expectMfaRequired(await otpLogin(stepCode(secret, now, -2)));
      const previous = stepCode(secret, now, -1);
      expect((await otpLogin(previous)).statusCode).toBe(200);
      expectMfaRequired(await otpLogin(previous));
      // The current step is newer than the one just used: accepted.
      expect((await otpLogin(stepCode(secret, now, 0))).statusCode).toBe(200);
    });

    it('after the current step\'s code, the previous step\'s (never used) is still accepted once; older steps never', async () => {
      freshStep();
      const now = clock.now();
      expect((await otpLogin(stepCode(secret, now, 0))).statusCode).toBe(200);
      expect((await otpLogin(stepCode(secret, now, -1))).statusCode).toBe(200);
      expectMfaRequired(await otpLogin(stepCode(secret, now, -1)));
      expectMfaRequired(await otpLogin(stepCode(secret, now, 0)));
      expectMfaRequired(await otpLogin(stepCode(secret, now, -2)));
      // A step on, the step used last is now the previous one: still used, still refused.
      clock.advance(TOTP_STEP_MS);
      expectMfaRequired(await otpLogin(stepCode(secret, clock.now(), -1)));
      expect((await otpLogin(stepCode(secret, clock.now(), 0))).statusCode).toBe(200);
    });

    it('two requests racing with the previous step\'s code after the current one was used: exactly one gets tokens', async () => {
      freshStep();
      const now = clock.now();
      expect((await otpLogin(stepCode(secret, now, 0))).statusCode).toBe(200);
      const previous = stepCode(secret, now, -1);
      const answers = await Promise.all([otpLogin(previous), otpLogin(previous), otpLogin(previous)]);
      expect(answers.map((r) => r.statusCode).sort(), answers.map((r) => r.body).join('\n')).toEqual([200, 401, 401]);
    });

    it('a recovery code works once, in any case or spacing', async () => {
      const code = recoveryCodes[0]!;
      expect((await otpLogin(` ${code.toUpperCase()} `)).statusCode).toBe(200);
      expectMfaRequired(await otpLogin(code));
      expectMfaRequired(await otpLogin(code.replace('-', '')));
      // The other nine still work.
      expect((await otpLogin(recoveryCodes[1]!)).statusCode).toBe(200);
    });

    it('no code, an empty code and a wrong code are 401 mfa_required, with no tokens and no cookie', async () => {
      freshStep();
      const wrong = totpCode(secret, clock.now()) === '123456' ? '654321' : '123456';
      for (const res of [await login(t.app, 'target'), await otpLogin(''), await otpLogin(wrong), await otpLogin('not-a-code-at-all')]) {
        expectMfaRequired(res);
        expect(res.headers['set-cookie']).toBeUndefined();
      }
      const json = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'target', password: PASSWORD, otp: wrong } });
      expectMfaRequired(json);
      expect(json.headers['set-cookie']).toBeUndefined();
    });

    it('the password is checked first: a wrong one gets the plain 401 even with a valid code, which stays unspent', async () => {
      freshStep();
      const code = totpCode(secret, clock.now());
      const res = await otpLogin(code, 'wrong password entirely');
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual(BAD_LOGIN);
      const noCode = await login(t.app, 'target', 'wrong password entirely');
      expect(noCode.json()).toEqual(BAD_LOGIN);
      expect((await otpLogin(code)).statusCode).toBe(200);
    });

    it('a wrong code is audited as a failed sign-in', async () => {
      freshStep();
      await otpLogin(totpCode(secret, clock.now() + 20 * TOTP_STEP_MS));
      const { events } = await t.storage.audit.list({ limit: 1, offset: 0, action: 'login.failure', userId });
      expect(events[0]).toMatchObject({ outcome: 'failure', details: { reason: 'otp' } });
    });

    it('secrets are stored encrypted and recovery codes hashed', async () => {
      const row = await t.storage.handle.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
      expect(row.mfa_secret).toBeTruthy();
      expect(row.mfa_secret).not.toContain(secret);
      expect(row.mfa_secret!.startsWith('v1.')).toBe(true);
      const codes = await t.storage.handle.db.selectFrom('recovery_codes').selectAll().where('user_id', '=', userId).execute();
      expect(codes).toHaveLength(10);
      const stored = JSON.stringify(codes);
      for (const code of recoveryCodes) {
        expect(stored).not.toContain(code);
        expect(stored).not.toContain(code.replace('-', ''));
      }
    });

    it('setup while MFA is on never turns it off, however often it is called', async () => {
      const { access_token } = await tokenFor(t.app, 'target', PASSWORD, { otp: recoveryCodes[2]! });
      for (let i = 0; i < 3; i++) await setupTotp(t.app, access_token);
      const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(access_token) });
      expect(me.json()).toMatchObject({ mfa_enabled: true });
      expectMfaRequired(await login(t.app, 'target'));
    });
  });
}

describe('wrong codes count toward the account lockout', () => {
  let t: TestApp;
  const clock = new FakeClock(Date.UTC(2026, 3, 2, 8, 0, 0));
  beforeAll(async () => {
    t = await authApp({ clock, env: { LOCKOUT_THRESHOLD: '3' } });
  });
  afterAll(() => t?.close());

  it('at sign-in: after three wrong codes even the right one is 429', async () => {
    await register(t.app, { username: 'guessed' });
    const { secret } = await enableTotp(t.app, (await tokenFor(t.app, 'guessed')).access_token, clock);
    clock.advance(3 * TOTP_STEP_MS);
    const right = totpCode(secret, clock.now());
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) expect((await login(t.app, 'guessed', PASSWORD, { otp: wrong })).statusCode).toBe(401);
    const locked = await login(t.app, 'guessed', PASSWORD, { otp: right });
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('at disable: a stolen session cannot guess the password or code there either', async () => {
    await register(t.app, { username: 'stolen' });
    const { access_token } = await tokenFor(t.app, 'stolen');
    const { secret } = await enableTotp(t.app, access_token, clock);
    clock.advance(3 * TOTP_STEP_MS);
    const code = totpCode(secret, clock.now());
    const disable = (password: string) =>
      t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/disable', headers: bearer(access_token), payload: { password, code } });
    for (const guess of ['guess number one', 'guess number two', 'guess number three']) expect((await disable(guess)).statusCode).toBe(403);
    expect((await disable(PASSWORD)).statusCode).toBe(429);
    expect((await login(t.app, 'stolen', PASSWORD, { otp: code })).statusCode).toBe(429);
  });
});
