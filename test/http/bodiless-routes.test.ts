// The mutating routes that read no body (logout, logout-all, ending a session, revoking a key, starting
// MFA setup) treat a JSON body as every JSON route does: fields are unknown, so 422 and nothing done
// (contract: "Unknown JSON fields are rejected with 422", never dropped); none, or `{}`, is accepted.
// And an id of any length names nothing when it is unknown: 404, never a 422 (contract: "an unknown
// {id} on an admin route is 404"; others' ids are 404).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, me, refresh, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';

const MASS_ASSIGNMENT = { role: 'admin' };

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`routes without a body on ${target.name}`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await authApp({ storage: await target.open() });
      await register(t.app, { username: 'alice' });
      await registerAdmin(t.app, 'root_admin');
    });
    afterAll(() => t?.close());

    const call = (method: 'POST' | 'DELETE', url: string, token: string, payload?: unknown) =>
      t.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });

    const expectUnknownField = (res: Awaited<ReturnType<typeof call>>) => {
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json()).toEqual({ detail: [expect.objectContaining({ loc: ['body', 'role'], type: 'extra_forbidden' })] });
    };

    it('logout and logout-all: a field is 422 and the session lives on; `{}` and no body sign out', async () => {
      const pair = await tokenFor(t.app, 'alice');
      expectUnknownField(await call('POST', '/api/v1/auth/logout', pair.access_token, MASS_ASSIGNMENT));
      expectUnknownField(await call('POST', '/api/v1/auth/logout-all', pair.access_token, MASS_ASSIGNMENT));
      expect((await me(t.app, pair.access_token)).statusCode).toBe(200);
      expect((await call('POST', '/api/v1/auth/logout', pair.access_token, {})).statusCode).toBe(204);
      expect((await me(t.app, pair.access_token)).statusCode).toBe(401);

      const other = await tokenFor(t.app, 'alice');
      expect((await call('POST', '/api/v1/auth/logout-all', other.access_token)).statusCode).toBe(204);
      expect((await refresh(t.app, other.refresh_token)).statusCode).toBe(401);
    });

    it('ending a session and revoking a key: a field is 422 and nothing ends', async () => {
      const phone = await tokenFor(t.app, 'alice');
      const laptop = await tokenFor(t.app, 'alice');
      const sessions = (await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(laptop.access_token) })).json<{ id: string; current: boolean }[]>();
      const phoneSession = sessions.find((s) => !s.current && s.id)!;
      expectUnknownField(await call('DELETE', `/api/v1/auth/sessions/${phoneSession.id}`, laptop.access_token, MASS_ASSIGNMENT));
      expect((await me(t.app, phone.access_token)).statusCode).toBe(200);

      const created = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: bearer(laptop.access_token), payload: { name: 'ci', scopes: ['profile:read'] } });
      const key = created.json<{ id: string; key: string }>();
      expectUnknownField(await call('DELETE', `/api/v1/api-keys/${key.id}`, laptop.access_token, MASS_ASSIGNMENT));
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-api-key': key.key } })).statusCode).toBe(200);
      expect((await call('DELETE', `/api/v1/api-keys/${key.id}`, laptop.access_token, {})).statusCode).toBe(204);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-api-key': key.key } })).statusCode).toBe(401);
    });

    it('a JSON body that is not an object (null, [], 0) is 422 on every one of them, and nothing ends', async () => {
      const pair = await tokenFor(t.app, 'alice');
      for (const body of ['null', '[]', '0', '"x"']) {
        for (const url of ['/api/v1/auth/logout', '/api/v1/auth/logout-all', '/api/v1/auth/mfa/totp/setup']) {
          const res = await t.app.inject({ method: 'POST', url, headers: { ...bearer(pair.access_token), 'content-type': 'application/json' }, payload: body });
          expect(res.statusCode, `${url} ${body}`).toBe(422);
        }
      }
      expect((await me(t.app, pair.access_token)).statusCode).toBe(200);
    });

    it('MFA setup: a field is 422 and no secret is made; none starts it', async () => {
      const { access_token } = await tokenFor(t.app, 'alice');
      const refused = await call('POST', '/api/v1/auth/mfa/totp/setup', access_token, MASS_ASSIGNMENT);
      expectUnknownField(refused);
      expect(refused.body).not.toContain('otpauth');
      expect((await call('POST', '/api/v1/auth/mfa/totp/setup', access_token)).statusCode).toBe(200);
    });

    it('an unknown id of any length the router takes is 404 on every id route', async () => {
      const { access_token } = await tokenFor(t.app, 'alice');
      const admin = await tokenFor(t.app, 'root_admin');
      for (const length of [1, 101, 150, 200]) {
        const id = 'x'.repeat(length);
        const admins = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: bearer(admin.access_token), payload: { is_active: true } });
        expect(admins.statusCode, `admin ${length}`).toBe(404);
        expect((await call('DELETE', `/api/v1/api-keys/${id}`, access_token)).statusCode, `key ${length}`).toBe(404);
        expect((await call('DELETE', `/api/v1/auth/sessions/${id}`, access_token)).statusCode, `session ${length}`).toBe(404);
      }
    });
  });
}
