// The API keys and two-factor pages over HTTP: the API's own rules on the key form (scopes within
// the role, bounds), a key shown only in its creation response, another user's key a 404, and the
// TOTP page's secret and recovery codes only in no-store responses; CSRF on every form.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { authApp, PASSWORD, register, registerAdmin } from '../helpers/auth.js';
import { getPage, pageLogin, postForm } from '../helpers/browser-session.js';
import { totpCode } from '../helpers/mfa.js';

const HX = { 'hx-request': 'true' };

let t: TestApp;
beforeAll(async () => {
  t = await authApp();
  await register(t.app, { username: 'uma' });
  await register(t.app, { username: 'vic' });
  await registerAdmin(t.app, 'wes');
});
afterAll(() => t?.close());

const unescape = (text: string) => text.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const fieldError = (body: string, id: string) => {
  const match = new RegExp(`<p class="field-error" id="${id}-error">([^<]*)</p>`).exec(body);
  return match ? unescape(match[1]!) : undefined;
};

describe('API keys page', () => {
  it('offers only the role\'s scopes, and refuses a forged one with the API\'s message on the field', async () => {
    const user = await pageLogin(t.app, 'uma');
    const page = await getPage(t.app, '/account/api-keys', user.jar);
    expect(page.statusCode).toBe(200);
    expect([...page.body.matchAll(/name="scopes" value="([^"]+)"/g)].map((m) => m[1])).toEqual(['profile:read', 'profile:write']);
    const admin = await pageLogin(t.app, 'wes');
    expect((await getPage(t.app, '/account/api-keys', admin.jar)).body).toContain('name="scopes" value="admin"');

    const forged = await postForm(t.app, '/account/api-keys', [['name', 'x'], ['scopes', 'profile:read'], ['scopes', 'admin'], ['csrf_token', user.csrf]], user.jar, HX);
    expect(forged.statusCode).toBe(422);
    expect(fieldError(forged.body, 'api-key-scopes')).toBe("Scope 'admin' is beyond your role");
    const api = await t.app.gatehouse.apiKeys.list((await t.storage.users.findByLogin('uma'))!.id);
    expect(api).toEqual([]);
    for (const [fields, id, msg] of [
      [[['name', ''], ['scopes', 'profile:read']], 'api-key-name', 'Enter a name.'],
      [[['name', 'x']], 'api-key-scopes', 'Choose at least one scope.'],
      [[['name', 'x'], ['scopes', 'profile:read'], ['expires_in_days', '0']], 'api-key-expires-in-days', 'Enter at least 1 day, or leave it empty.'],
      [[['name', 'x'], ['scopes', 'profile:read'], ['expires_in_days', 'soon']], 'api-key-expires-in-days', 'Enter a whole number of days, or leave it empty.'],
    ] as [[string, string][], string, string][]) {
      const res = await postForm(t.app, '/account/api-keys', [...fields, ['csrf_token', user.csrf]], user.jar, HX);
      expect(res.statusCode, id).toBe(422);
      expect(fieldError(res.body, id)).toBe(msg);
    }
  });

  it('the key appears once, in a no-store 201; never in the list; another user\'s key cannot be revoked', async () => {
    const uma = await pageLogin(t.app, 'uma');
    const created = await postForm(t.app, '/account/api-keys', [['name', 'ci'], ['scopes', 'profile:read'], ['expires_in_days', '30'], ['csrf_token', uma.csrf]], uma.jar);
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const key = /id="api-key-created" class="secret" type="text" readonly value="([^"]+)"/.exec(created.body)![1]!;
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-api-key': key } })).statusCode).toBe(200);
    expect((await getPage(t.app, '/account/api-keys', uma.jar)).body).not.toContain(key);
    const [stored] = await t.app.gatehouse.apiKeys.list((await t.storage.users.findByLogin('uma'))!.id);
    expect(stored!.expiresAt! - stored!.createdAt).toBe(30 * 86_400_000);

    const vic = await pageLogin(t.app, 'vic');
    const theirs = await postForm(t.app, `/account/api-keys/${stored!.id}/revoke`, { csrf_token: vic.csrf }, vic.jar);
    expect(theirs.statusCode).toBe(404);
    expect(theirs.headers['content-type']).toBe('text/html; charset=utf-8');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-api-key': key } })).statusCode).toBe(200);
    const forged = await postForm(t.app, `/account/api-keys/${stored!.id}/revoke`, { csrf_token: vic.csrf }, uma.jar);
    expect(forged.statusCode).toBe(403);
    const revoked = await postForm(t.app, `/account/api-keys/${stored!.id}/revoke`, { csrf_token: uma.csrf }, uma.jar);
    expect(revoked.statusCode).toBe(303);
    expect(revoked.headers.location).toBe('/account/api-keys?notice=revoked');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-api-key': key } })).statusCode).toBe(401);
  });
});

describe('two-factor page', () => {
  it('setup shows a QR code and the key, not the otpauth URL; a wrong code keeps MFA off; the right one shows ten codes', async () => {
    const vic = await pageLogin(t.app, 'vic');
    const noToken = await postForm(t.app, '/account/mfa/setup', {}, vic.jar);
    expect(noToken.statusCode).toBe(403);
    const setup = await postForm(t.app, '/account/mfa/setup', { csrf_token: vic.csrf }, vic.jar, HX);
    expect(setup.statusCode).toBe(200);
    expect(setup.headers['cache-control']).toBe('no-store');
    expect(setup.body).toMatch(/<div class="qr" role="img" aria-label="[^"]+"><svg\b/);
    expect(setup.body).not.toContain('otpauth://');
    expect(setup.body).not.toMatch(/\sstyle=/);
    const secret = /<code class="secret">([^<]+)<\/code>/.exec(setup.body)![1]!.replace(/\s/g, '');

    const wrong = await postForm(t.app, '/account/mfa/enable', { code: '123456', csrf_token: vic.csrf }, vic.jar, HX);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.headers['hx-retarget']).toBe('#mfa-enable-form');
    expect(fieldError(wrong.body, 'mfa-enable-code')).toContain('Invalid two-factor code');
    expect((await t.storage.users.findByLogin('vic'))!.mfaEnabled).toBe(false);

    const ok = await postForm(t.app, '/account/mfa/enable', { code: totpCode(secret, Date.now()), csrf_token: vic.csrf }, vic.jar, HX);
    expect(ok.statusCode).toBe(200);
    expect([...ok.body.matchAll(/<li>([^<]+)<\/li>/g)]).toHaveLength(10);
    expect((await t.storage.users.findByLogin('vic'))!.mfaEnabled).toBe(true);
    expect((await getPage(t.app, '/account/mfa', vic.jar)).body).not.toMatch(/<ol class="codes">/);

    const badDisable = await postForm(t.app, '/account/mfa/disable', { password: PASSWORD, code: '000000', csrf_token: vic.csrf }, vic.jar, HX);
    expect(badDisable.statusCode).toBe(403);
    expect(badDisable.body).toContain('Incorrect password or two-factor code');
    expect((await t.storage.users.findByLogin('vic'))!.mfaEnabled).toBe(true);
  });
});
