// The resource-server kit end to end: a real Gatehouse (JWT_ALGORITHM=EdDSA) listening on loopback,
// and examples/resource-server/server.mjs as its own process, importing `gatehouse/verify` through the
// package's exports. Gatehouse's tokens open the example's routes as far as their roles and scopes go;
// anything else is refused; a fresh instance that cannot reach Gatehouse's keys answers 503.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { authApp, decodeJwt, PASSWORD, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import type { TestApp } from '../helpers/app.js';
import Fastify from 'fastify';
import { gatehouseVerify, GATEHOUSE_AUDIENCE } from '../../src/verify/index.js';
import { TOKEN_AUDIENCE } from '../../src/services/index.js';
import { errors } from '../../src/plugins/errors.js';
import { freePort } from '../helpers/process.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/resource-server/server.mjs', import.meta.url));


interface Example {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the example as a process; resolves once it logs its URL (sequenced by its output, not by time). */
function startExample(gatehouseUrl: string): Promise<Example> {
  const child = spawn(process.execPath, [EXAMPLE], {
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_URL: gatehouseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`example exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as { msg?: string; url?: string };
      if (parsed.msg === 'resource server listening' && parsed.url) {
        resolve({ url: parsed.url, child, stop: async () => { child.kill('SIGTERM'); await exited; } });
      }
    });
  });
}

let gatehouse: TestApp;
let gatehouseUrl: string;
let example: Example;
let userToken: string;
let adminToken: string;

beforeAll(async () => {
  const port = await freePort();
  gatehouse = await authApp({ env: { JWT_ALGORITHM: 'EdDSA', HOST: '127.0.0.1', PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` } });
  gatehouseUrl = await gatehouse.app.listen({ host: '127.0.0.1', port });
  expect(gatehouse.config.publicUrl).toBe(gatehouseUrl);
  example = await startExample(gatehouseUrl);
  await register(gatehouse.app, { username: 'reader' });
  await registerAdmin(gatehouse.app, 'boss');
  userToken = (await tokenFor(gatehouse.app, 'reader')).access_token;
  adminToken = (await tokenFor(gatehouse.app, 'boss')).access_token;
}, 120_000);
afterAll(async () => {
  await example?.stop();
  await gatehouse?.close();
});

const get = (path: string, token?: string, base = example.url) =>
  fetch(`${base}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

// Each test starts processes and signs in with argon2: slow on a loaded machine, not a hang.
describe('the example resource server with a real Gatehouse', { timeout: 120_000 }, () => {
  it('serves its public route with Gatehouse\'s hardening headers', async () => {
    const res = await get('/public');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: 'anyone' });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('a Gatehouse user token opens /notes as that user', async () => {
    const res = await get('/notes', userToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user_id: Number(decodeJwt(userToken).payload.sub), notes: [expect.any(String)] });
  });

  it('roles and scopes are the token\'s: a user is refused /reports, an admin is not, a narrow scope is refused /notes', async () => {
    const refused = await get('/reports', userToken);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ detail: 'Insufficient permissions' });
    expect((await get('/reports', adminToken)).status).toBe(200);
    const narrow = (await tokenFor(gatehouse.app, 'reader', PASSWORD, { scope: 'profile:write' })).access_token;
    const res = await get('/notes', narrow);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ detail: 'Insufficient scope' });
  });

  it('no token, a tampered token, a refresh token: 401', async () => {
    const none = await get('/notes');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const [h, p] = userToken.split('.');
    const claims = { ...decodeJwt(userToken).payload, roles: ['admin'], scope: 'admin' };
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${userToken.split('.')[2]}`;
    const { refresh_token } = await tokenFor(gatehouse.app, 'reader');
    for (const token of [forged, `${h}.${p}.`, refresh_token, 'garbage']) {
      const res = await get('/reports', token);
      expect(res.status, token.slice(0, 20)).toBe(401);
      expect(await res.json()).toEqual({ detail: 'Could not validate credentials' });
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }
    // One spelling only: the signature's spare low bits changed still decodes to the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sig = userToken.split('.')[2]!;
    const twin = [1, 2, 3].map((x) => sig.slice(0, -1) + alphabet[alphabet.indexOf(sig.at(-1)!) ^ x]).find((t) => Buffer.from(t, 'base64url').equals(Buffer.from(sig, 'base64url')));
    expect(twin).toBeDefined();
    expect((await get('/notes', `${h}.${p}.${twin}`)).status).toBe(401);
    expect((await get('/notes', userToken)).status).toBe(200);
  });

  it('Gatehouse stopped: an instance holding its keys keeps verifying, a fresh one answers 503', async () => {
    const port = await freePort();
    const second = await authApp({ env: { JWT_ALGORITHM: 'ES256', HOST: '127.0.0.1', PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` } });
    const url = await second.app.listen({ host: '127.0.0.1', port });
    await register(second.app, { username: 'later' });
    const token = (await tokenFor(second.app, 'later')).access_token;
    const warm = await startExample(url);
    try {
      expect((await get('/notes', token, warm.url)).status).toBe(200);
      await second.close();
      expect((await get('/notes', token, warm.url)).status).toBe(200);
      const cold = await startExample(url);
      try {
        const res = await get('/notes', token, cold.url);
        expect(res.status).toBe(503);
        expect(await res.json()).toEqual({ detail: 'Service temporarily unavailable' });
      } finally {
        await cold.stop();
      }
    } finally {
      await warm.stop();
    }
  });
});

describe('gatehouseVerify in-process (fake clock)', () => {
  it('defaults to Gatehouse\'s audience and refuses tokens of another issuer URL', async () => {
    expect(GATEHOUSE_AUDIENCE).toBe(TOKEN_AUDIENCE);
    const app = Fastify();
    await app.register(errors);
    await app.register(gatehouseVerify, { gatehouseUrl: `${gatehouseUrl}/`, clock: new FakeClock(Date.now()) });
    app.get('/me', { onRequest: app.requireUser }, async (request) => ({ id: request.principal.userId }));
    try {
      const ok = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${userToken}` } });
      expect(ok.statusCode, ok.body).toBe(200);
      const other = Fastify();
      await other.register(errors);
      await other.register(gatehouseVerify, { gatehouseUrl: 'http://127.0.0.1:1', jwksUrl: `${gatehouseUrl}/.well-known/jwks.json` });
      other.get('/me', { onRequest: other.requireUser }, async () => ({}));
      const res = await other.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${userToken}` } });
      expect(res.statusCode).toBe(401);
      await other.close();
    } finally {
      await app.close();
    }
  });

  it('refuses bad options at registration, naming the option', async () => {
    for (const [options, message] of [
      [{}, 'gatehouseVerify: option "gatehouseUrl" must be a URL string'],
      [{ gatehouseUrl: 'not a url' }, 'gatehouseVerify: option "gatehouseUrl" must be a URL, got "not a url"'],
      [{ gatehouseUrl: 'http://x', algorithms: ['HS256'] }, 'gatehouseVerify: option "algorithms" must list EdDSA and/or ES256'],
    ] as const) {
      const app = Fastify();
      await expect(app.register(gatehouseVerify, options as never).ready()).rejects.toThrow(message);
      await app.close();
    }
  });
});
