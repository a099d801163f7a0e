import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.js';

describe('auth smoke', () => {
  let t: TestApp;
  beforeAll(async () => { t = await testApp(); });
  afterAll(() => t.close());

  it('register → token → me → refresh → reuse → logout', async () => {
    const reg = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'ann@example.com', username: 'ann', password: 'correct horse battery' } });
    expect(reg.statusCode, reg.body).toBe(201);
    const tok = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: 'grant_type=password&username=ann&password=correct+horse+battery', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(tok.statusCode, tok.body).toBe(200);
    const pair = tok.json();
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: `Bearer ${pair.access_token}` } });
    expect(me.statusCode, me.body).toBe(200);
    const ref = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: pair.refresh_token } });
    expect(ref.statusCode, ref.body).toBe(200);
    const reuse = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: pair.refresh_token } });
    expect(reuse.statusCode, reuse.body).toBe(401);
    const ref2 = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: ref.json().refresh_token } });
    expect(ref2.statusCode, ref2.body).toBe(401);
    const me2 = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: `Bearer ${ref.json().access_token}` } });
    expect(me2.statusCode, me2.body).toBe(401);
    console.log(me.json(), reuse.json(), me2.headers['www-authenticate']);
  });
});
