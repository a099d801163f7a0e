// TOTP two-factor sign-in through the real routes: setup (a pending secret, no-store), enable
// (ten recovery codes), sign-in with `otp` on /auth/token and /auth/login, disable, and setup
// while MFA is on (which never turns it off). Codes are computed from the secret, on a fake clock.
import { Secret, URI } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, login, me, register, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';
import { TOTP_STEP_MS, enableTotp, setupTotp, totpCode } from '../helpers/mfa.js';
import { otpauthQrSvg } from '../../src/services/mfa.js';

const MFA_REQUIRED = { detail: 'A valid two-factor code is required', error: 'mfa_required' };

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`TOTP two-factor sign-in on ${target.name}`, () => {
    let t: TestApp;
    const clock = new FakeClock(Date.UTC(2026, 2, 1, 12, 0, 0));
    beforeAll(async () => {
      t = await authApp({ clock, storage: await target.open() });
    });
    afterAll(() => t?.close());

    const post = (url: string, token: string, payload?: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: `/api/v1/auth/mfa/totp/${url}`, headers: bearer(token), ...(payload ? { payload } : {}) });
    /** Each test signs in at a fresh step, so no test meets a step another one used. */
    const nextStep = () => clock.advance(3 * TOTP_STEP_MS);

    it('setup returns a 160-bit base32 secret and its otpauth URL, not cacheable; MFA is still off', async () => {
      await register(t.app, { username: 'setup_user' });
      const { access_token } = await tokenFor(t.app, 'setup_user');
      const res = await post('setup', access_token);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json<{ secret: string; otpauth_url: string }>();
      expect(Object.keys(body).sort()).toEqual(['otpauth_url', 'secret']);
      expect(body.secret).toMatch(/^[A-Z2-7]+=*$/);
      expect(Secret.fromBase32(body.secret).bytes.length).toBeGreaterThanOrEqual(20);
      const parsed = URI.parse(body.otpauth_url);
      expect(parsed).toMatchObject({ issuer: 'Gatehouse', label: 'setup_user', algorithm: 'SHA1', digits: 6, period: 30 });
      expect(parsed.secret.base32).toBe(body.secret);
      expect(body.otpauth_url.startsWith('otpauth://totp/Gatehouse:setup_user?')).toBe(true);
      expect((await me(t.app, access_token)).json()).toMatchObject({ mfa_enabled: false });
      // Pending only: signing in needs no code yet.
      expect((await login(t.app, 'setup_user')).statusCode).toBe(200);
    });

    it('enable: a wrong code is 400 and changes nothing; the right one turns MFA on with ten recovery codes', async () => {
      const user = await register(t.app, { username: 'enabler' });
      const { access_token } = await tokenFor(t.app, 'enabler');
      const { secret } = await setupTotp(t.app, access_token);
      const wrongCode = totpCode(secret, clock.now() + 10 * TOTP_STEP_MS);
      const wrong = await post('enable', access_token, { code: wrongCode });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json()).toEqual({ detail: 'Invalid two-factor code' });
      expect((await me(t.app, access_token)).json()).toMatchObject({ mfa_enabled: false });

      const res = await post('enable', access_token, { code: totpCode(secret, clock.now()) });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const { recovery_codes } = res.json<{ recovery_codes: string[] }>();
      expect(recovery_codes).toHaveLength(10);
      expect(new Set(recovery_codes).size).toBe(10);
      for (const code of recovery_codes) expect(code.length).toBeGreaterThanOrEqual(10);
      expect((await me(t.app, access_token)).json()).toMatchObject({ mfa_enabled: true });
      const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'mfa.enable', userId: user.id });
      expect(events[0]).toMatchObject({ outcome: 'success' });
      expect(JSON.stringify(events)).not.toContain(secret);
    });

    it('sign-in then needs the code: none is 401 mfa_required without tokens, the current one gives tokens', async () => {
      await register(t.app, { username: 'signer' });
      const { secret } = await enableTotp(t.app, (await tokenFor(t.app, 'signer')).access_token, clock);
      nextStep();
      const missing = await login(t.app, 'signer');
      expect(missing.statusCode).toBe(401);
      expect(missing.json()).toEqual(MFA_REQUIRED);
      expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(missing.body).not.toContain('access_token');
      const ok = await login(t.app, 'signer', undefined, { otp: totpCode(secret, clock.now()) });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json()).toMatchObject({ token_type: 'bearer', access_token: expect.any(String) });
    });

    it('the JSON browser login takes `otp` the same way, and sets no cookie without it', async () => {
      await register(t.app, { username: 'browser_mfa' });
      const { secret } = await enableTotp(t.app, (await tokenFor(t.app, 'browser_mfa')).access_token, clock);
      nextStep();
      const url = '/api/v1/auth/login';
      const missing = await t.app.inject({ method: 'POST', url, payload: { username: 'browser_mfa', password: 'correct horse battery staple' } });
      expect(missing.statusCode).toBe(401);
      expect(missing.json()).toEqual(MFA_REQUIRED);
      expect(missing.headers['set-cookie']).toBeUndefined();
      const ok = await t.app.inject({ method: 'POST', url, payload: { username: 'browser_mfa', password: 'correct horse battery staple', otp: totpCode(secret, clock.now()) } });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json()).toMatchObject({ user: { username: 'browser_mfa', mfa_enabled: true } });
    });

    it('a recovery code signs in in place of the code', async () => {
      await register(t.app, { username: 'recoverer' });
      const { recovery_codes } = await enableTotp(t.app, (await tokenFor(t.app, 'recoverer')).access_token, clock);
      const res = await login(t.app, 'recoverer', undefined, { otp: recovery_codes[3]! });
      expect(res.statusCode, res.body).toBe(200);
    });

    it('disable needs the password and a code: either wrong is 403 and MFA stays on; both right is 204', async () => {
      const user = await register(t.app, { username: 'disabler' });
      const { access_token } = await tokenFor(t.app, 'disabler');
      const { secret } = await enableTotp(t.app, access_token, clock);
      nextStep();
      const code = totpCode(secret, clock.now());
      for (const payload of [{ password: 'not my password', code }, { password: 'correct horse battery staple', code: '000000' === code ? '111111' : '000000' }]) {
        const res = await post('disable', access_token, payload);
        expect(res.statusCode).toBe(403);
        expect(res.json()).toEqual({ detail: 'Incorrect password or two-factor code' });
      }
      expect((await me(t.app, access_token)).json()).toMatchObject({ mfa_enabled: true });
      // The code was not spent by the attempt with the wrong password.
      const res = await post('disable', access_token, { password: 'correct horse battery staple', code });
      expect(res.statusCode, res.body).toBe(204);
      expect((await me(t.app, access_token)).json()).toMatchObject({ mfa_enabled: false });
      expect((await login(t.app, 'disabler')).statusCode).toBe(200);
      // The old recovery codes died with it.
      expect(await t.storage.recoveryCodes.countUnused(user.id)).toBe(0);
      const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'mfa.disable', userId: user.id });
      expect(events.map((e) => e.outcome)).toEqual(['success', 'failure', 'failure']);
    });

    it('disable also takes a recovery code', async () => {
      await register(t.app, { username: 'disable_rc' });
      const { access_token } = await tokenFor(t.app, 'disable_rc');
      const { recovery_codes } = await enableTotp(t.app, access_token, clock);
      const res = await post('disable', access_token, { password: 'correct horse battery staple', code: recovery_codes[0]! });
      expect(res.statusCode, res.body).toBe(204);
    });

    it('setup while MFA is on keeps the old secret in force until a new one is enabled with a code of the old', async () => {
      await register(t.app, { username: 'rotator' });
      const { access_token } = await tokenFor(t.app, 'rotator');
      const old = await enableTotp(t.app, access_token, clock);
      const fresh = await setupTotp(t.app, access_token);
      expect(fresh.secret).not.toBe(old.secret);
      expect((await me(t.app, access_token)).json()).toMatchObject({ mfa_enabled: true });
      nextStep();
      expect((await login(t.app, 'rotator')).statusCode).toBe(401);
      expect((await login(t.app, 'rotator', undefined, { otp: totpCode(fresh.secret, clock.now()) })).json()).toEqual(MFA_REQUIRED);
      expect((await login(t.app, 'rotator', undefined, { otp: totpCode(old.secret, clock.now()) })).statusCode).toBe(200);

      // Whoever holds a session cannot swap the factor without a code of the one in force.
      const bare = await post('enable', access_token, { code: totpCode(fresh.secret, clock.now()) });
      expect(bare.statusCode, bare.body).toBe(403);
      expect(bare.json().detail).toMatch(/current_code/);
      const wrong = await post('enable', access_token, { code: totpCode(fresh.secret, clock.now()), current_code: '000000' });
      expect(wrong.statusCode, wrong.body).toBe(403);
      expect(wrong.json()).toEqual({ detail: 'Incorrect password or two-factor code' });
      const failures = await t.storage.audit.list({ limit: 5, offset: 0, action: 'mfa.enable' });
      expect(failures.events[0]).toMatchObject({ outcome: 'failure' });
      nextStep();
      expect((await login(t.app, 'rotator', undefined, { otp: totpCode(fresh.secret, clock.now()) })).json()).toEqual(MFA_REQUIRED);

      const enabled = await post('enable', access_token, { code: totpCode(fresh.secret, clock.now()), current_code: totpCode(old.secret, clock.now()) });
      expect(enabled.statusCode, enabled.body).toBe(200);
      nextStep();
      expect((await login(t.app, 'rotator', undefined, { otp: totpCode(old.secret, clock.now()) })).statusCode).toBe(401);
      expect((await login(t.app, 'rotator', undefined, { otp: old.recovery_codes[0]! })).statusCode).toBe(401);
      expect((await login(t.app, 'rotator', undefined, { otp: totpCode(fresh.secret, clock.now()) })).statusCode).toBe(200);
    });

    it('enable before setup and disable while off are 409', async () => {
      await register(t.app, { username: 'no_setup' });
      const { access_token } = await tokenFor(t.app, 'no_setup');
      const enable = await post('enable', access_token, { code: '123456' });
      expect(enable.statusCode).toBe(409);
      expect(enable.json()).toEqual({ detail: 'Start two-factor setup first' });
      const disable = await post('disable', access_token, { password: 'correct horse battery staple', code: '123456' });
      expect(disable.statusCode).toBe(409);
      expect(disable.json()).toEqual({ detail: 'Two-factor authentication is not enabled' });
    });

    it('every MFA route needs a signed-in user, and unknown fields are 422', async () => {
      for (const url of ['setup', 'enable', 'disable']) {
        const res = await t.app.inject({ method: 'POST', url: `/api/v1/auth/mfa/totp/${url}` });
        expect(res.statusCode, url).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
      await register(t.app, { username: 'extra_fields' });
      const { access_token } = await tokenFor(t.app, 'extra_fields');
      const res = await post('enable', access_token, { code: '123456', enabled: true });
      expect(res.statusCode).toBe(422);
      expect(res.json().detail[0]).toMatchObject({ loc: ['body', 'enabled'] });
    });
  });
}

describe('otpauthQrSvg (for the setup page)', () => {
  it('renders the URL as inline SVG markup: no script, no XML prolog, no secret in clear', async () => {
    const url = 'otpauth://totp/Gatehouse:alice?issuer=Gatehouse&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30';
    const svg = await otpauthQrSvg(url);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/<script|<\?xml|on\w+=/i);
    expect(svg).not.toContain('JBSWY3DP');
    // Another URL, another picture.
    expect(await otpauthQrSvg(url.replace('alice', 'bob'))).not.toBe(svg);
    await expect(otpauthQrSvg('https://evil.example/')).rejects.toThrow(TypeError);
  });
});
