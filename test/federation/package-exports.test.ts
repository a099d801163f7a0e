// The package as another project sees it: a temp project with `gatehouse` linked into node_modules
// imports every export (and nothing unexported), runs the README's own snippets against the built
// plugins, and type-checks code that uses them through the published `.d.ts` files.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/config.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };

const EXPECTED: Record<string, string[]> = {
  'gatehouse': ['buildApp', 'loadConfig', 'ConfigError', 'startServer'],
  'gatehouse/verify': ['gatehouseVerify', 'gatehouseAuthenticator', 'authGuard', 'firstOf'],
  'gatehouse/security-headers': ['securityHeaders'],
  'gatehouse/cors': ['cors'],
  'gatehouse/https-only': ['httpsOnly'],
  'gatehouse/client-address': ['clientAddress'],
  'gatehouse/request-id': ['requestId', 'requestIdFrom'],
  'gatehouse/errors': ['errors'],
  'gatehouse/content-types': ['contentTypes'],
  'gatehouse/rate-limit': ['rateLimit'],
  'gatehouse/auth-guard': ['authGuard', 'firstOf'],
  'gatehouse/limiters': ['createLimiter'],
};

let project: string;
beforeAll(() => {
  project = tempDir('gatehouse-consumer-');
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(root, join(project, 'node_modules', 'gatehouse'), 'dir');
  // The consumer's own Fastify (an app that uses the plugins has it as a dependency of its own).
  symlinkSync(join(root, 'node_modules', 'fastify'), join(project, 'node_modules', 'fastify'), 'dir');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
});

async function node(file: string, source: string): Promise<string> {
  writeFileSync(join(project, file), source);
  const { stdout } = await run(process.execPath, [file], { cwd: project, timeout: 90_000 });
  return stdout;
}

/** The ```js block that follows `heading` in the README. */
function readmeSnippet(heading: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  if (readme.indexOf(heading) === -1 || !match) throw new Error(`README has no js snippet under "${heading}"`);
  return match[1]!;
}

describe('package exports', { timeout: 120_000 }, () => {
  it('name every subpath the README documents, each with built JS and .d.ts', () => {
    expect(pkg.name).toBe('gatehouse');
    expect(Object.keys(pkg.exports).filter((k) => k !== './package.json').map((k) => `gatehouse${k.slice(1)}`).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const target of Object.values(pkg.exports)) {
      if (typeof target === 'string') continue;
      const { types, default: js } = target as { types: string; default: string };
      expect(existsSync(join(root, types)), types).toBe(true);
      expect(existsSync(join(root, js)), js).toBe(true);
    }
  });

  it('resolve from another project, and internals stay private', async () => {
    const out = await node('imports.mjs', `
      const expected = ${JSON.stringify(EXPECTED)};
      const seen = {};
      for (const [specifier, names] of Object.entries(expected)) {
        const mod = await import(specifier);
        seen[specifier] = Object.fromEntries(names.map((n) => [n, typeof mod[n]]));
      }
      let internal = 'resolved';
      try { await import('gatehouse/dist/storage/index.js'); } catch (err) { internal = err.code; }
      console.log(JSON.stringify({ seen, internal }));
    `);
    const { seen, internal } = JSON.parse(out) as { seen: Record<string, Record<string, string>>; internal: string };
    for (const [specifier, names] of Object.entries(EXPECTED)) {
      expect(seen[specifier], specifier).toEqual(Object.fromEntries(names.map((n) => [n, 'function'])));
    }
    expect(internal).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('the README\'s hardening snippet runs as written and hardens the app', async () => {
    const out = await node('hardening.mjs', `${readmeSnippet("## Using Gatehouse's plugins in your own Fastify app")}
      const ok = await app.inject({ method: 'POST', url: '/api/things', payload: { a: 1 } });
      const form = await app.inject({ method: 'POST', url: '/api/things', payload: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const missing = await app.inject({ method: 'GET', url: '/nope', headers: { origin: 'https://evil.example' } });
      console.log(JSON.stringify({ ok: [ok.statusCode, ok.json(), ok.headers], form: [form.statusCode, form.json()], missing: [missing.statusCode, missing.json(), missing.headers] }));
    `);
    type Answer = [number, unknown, Record<string, string>];
    const { ok, form, missing } = JSON.parse(out) as { ok: Answer; form: [number, unknown]; missing: Answer };
    expect(ok[0]).toBe(200);
    expect(ok[1]).toEqual({ received: { a: 1 } });
    expect(ok[2]).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'ratelimit-limit': '100' });
    expect(ok[2]['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(form).toEqual([415, { detail: 'Unsupported Media Type' }]);
    expect(missing[0]).toBe(404);
    expect(missing[1]).toEqual({ detail: 'Not Found' });
    expect(missing[2]['access-control-allow-origin']).toBeUndefined();
  });

  it('the README\'s resource-server snippet runs as written', async () => {
    const out = await node('verify.mjs', `${readmeSnippet('## Resource servers: verifying Gatehouse tokens')}
      const none = await app.inject({ method: 'GET', url: '/notes' });
      const bad = await app.inject({ method: 'GET', url: '/reports', headers: { authorization: 'Bearer junk' } });
      console.log(JSON.stringify([none.statusCode, none.json(), bad.statusCode, bad.headers['www-authenticate']]));
    `);
    expect(JSON.parse(out)).toEqual([401, { detail: 'Not authenticated' }, 401, 'Bearer error="invalid_token"']);
  });

  it('type-check through the published .d.ts files', async () => {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['consumer.ts'],
    }));
    writeFileSync(join(project, 'consumer.ts'), `
      import Fastify from 'fastify';
      import { buildApp, loadConfig, type Config } from 'gatehouse';
      import { gatehouseVerify, type Principal } from 'gatehouse/verify';
      import { securityHeaders } from 'gatehouse/security-headers';
      import { authGuard, firstOf } from 'gatehouse/auth-guard';
      const config: Config = loadConfig({ SECRET_KEY: 'x'.repeat(48) }).config;
      export const server = buildApp(config);
      const app = Fastify();
      await app.register(securityHeaders, { hsts: true });
      await app.register(gatehouseVerify, { gatehouseUrl: 'https://auth.example.com', algorithms: ['EdDSA'] });
      app.get('/x', { onRequest: [app.requireUser, app.requireScopes('profile:read')] }, async (request) => {
        const who: Principal = request.principal;
        return { id: who.userId satisfies number };
      });
      export const guard = authGuard;
      export const either = firstOf(async () => null);
      // @ts-expect-error hsts is required
      await app.register(securityHeaders, {});
    `);
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', join(project, 'tsconfig.json')], { cwd: project, timeout: 90_000 }).catch((err: { stdout: string }) => err);
    expect((result as { stdout: string }).stdout).toBe('');
  });
});
